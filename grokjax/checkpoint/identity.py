"""Is a saved sweep configuration (config.json) the one being run? If not, say what differs in one line."""
from __future__ import annotations

import numpy as np

MAX_LISTED = 4


def _flat(config: dict) -> dict[str, object]:
    """Flag-like keys: static fields and grid columns by name, other sections by their key."""
    flat = dict(config.get("static") or {})  # static settings first: the likeliest edit
    for key, value in config.items():
        if key == "grid" and isinstance(value, dict):
            flat.update(value)
        elif key != "static":
            flat[key] = value
    return flat


def _brief(value) -> str:
    if isinstance(value, list) and value and all(isinstance(v, (int, float)) for v in value):
        unique = _unique(value)
        if len(unique) <= 4:
            return ",".join(f"{v:g}" for v in unique)
        return f"{unique[0]:g}..{unique[-1]:g} ({len(unique)} values)"
    text = "(unset)" if value is None else str(value) or "(none)"
    return text if len(text) <= 40 else text[:37] + "..."


def _unique(value) -> np.ndarray:
    return np.unique(np.asarray(value, dtype=np.float64))


def _is_numbers(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, (int, float)) for v in value)


def _all_at_default(column, default) -> bool:
    """`column` (a grid column, float32 values as lists) holds only the scalar `default`."""
    return _is_numbers(column) and _is_numbers([default]) and bool(
        np.all(np.asarray(column, np.float32) == np.float32(default)))


def differences(saved: dict, new: dict, defaults: dict | None = None) -> list[str]:
    """'name: old -> new' for every key whose value changed, static settings first.

    A key missing on one side counts as its value in `defaults` (settings added since the sweep was saved).
    """
    old_flat, new_flat = _flat(saved), _flat(new)
    defaults = defaults or {}
    out = []
    for key in [*new_flat, *[k for k in old_flat if k not in new_flat]]:
        old, cur = old_flat.get(key, defaults.get(key)), new_flat.get(key, defaults.get(key))
        if old == cur:
            continue
        if _all_at_default(cur, old) or _all_at_default(old, cur):
            continue  # a grid column missing on one side, every run at its default on the other
        if _is_numbers(old) and _is_numbers(cur) and np.array_equal(_unique(old), _unique(cur)):
            if len(old) == len(cur):  # same values, another order of runs
                out.append(f"{key}: order of runs changed")
            continue  # the same values, only repeated for another number of runs (n_runs says so)
        a, b = _brief(old), _brief(cur)
        out.append(f"{key}: {a} -> {b}" if a != b else f"{key}: changed")
    return out


def describe(saved: dict, new: dict, defaults: dict | None = None) -> str:
    """The differences, at most MAX_LISTED of them spelled out."""
    diffs = differences(saved, new, defaults)
    if len(diffs) > MAX_LISTED:
        diffs = [*diffs[:MAX_LISTED], f"and {len(diffs) - MAX_LISTED} more"]
    return ", ".join(diffs)
