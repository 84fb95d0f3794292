"""Dense trajectories: parameter snapshots at chosen steps, without optimizer state.

    workdir/snapshots/batch_000/step_00001000.npz   one array per parameter, (runs of the batch, ...)

A snapshot is taken at an evaluation point, so requested steps are rounded to
the nearest one. Array names are the parameter paths joined by '/' (e.g.
'block_0/attn/wq'); `unflatten` turns them back into the nested dict.
Files are written atomically (written whole, then renamed).
"""
from __future__ import annotations

import io
import os
import re

import jax
import numpy as np

from grokjax.config import ConfigError
from grokjax.train.run_dir import SNAPSHOTS, atomic_write_bytes, load_npz

SNAPSHOT_DIR = SNAPSHOTS
DTYPES = ("float32", "float16")
_FILE = re.compile(r"^step_(\d+)\.npz$")


def resolve_steps(spec: str, eval_points: np.ndarray) -> tuple[int, ...]:
    """'log:N' (step 0 and N log-spaced points) or 'a,b,c' -> sorted evaluation steps ('' = none)."""
    spec = spec.strip()
    if not spec:
        return ()
    form = "log:N or a comma-separated list of steps, e.g. 100,1000,5000"
    try:
        if spec.startswith("log:"):
            n = int(spec[4:])
            if n <= 0:
                raise ValueError
            first = int(eval_points[1]) if len(eval_points) > 1 else int(eval_points[0])
            wanted = [0, *np.geomspace(max(first, 1), max(int(eval_points[-1]), 1), n)]
        else:
            wanted = [float(s) for s in spec.split(",")]
    except ValueError:
        raise ConfigError(f"--snapshot_steps={spec!r} is malformed; write {form}") from None
    last = int(eval_points[-1])
    for s in wanted:
        if not 0 <= s <= last:
            raise ConfigError(f"--snapshot_steps: step {s:g} is outside [0, {last}] (--steps={last})")
    nearest = {int(eval_points[np.argmin(np.abs(eval_points - s))]) for s in wanted}
    return tuple(sorted(nearest))


def flatten(params) -> dict[str, np.ndarray]:
    """{'block_0/attn/wq': array, ...} from a nested dict of arrays."""
    flat, _ = jax.tree_util.tree_flatten_with_path(params)
    return {"/".join(_key_name(k) for k in path): np.asarray(v) for path, v in flat}


def _key_name(key) -> str:
    for attr in ("key", "name", "idx"):  # DictKey, GetAttrKey, SequenceKey
        if hasattr(key, attr):
            return str(getattr(key, attr))
    return str(key)


def unflatten(arrays: dict[str, np.ndarray]) -> dict:
    out: dict = {}
    for name, value in arrays.items():
        node = out
        *parents, leaf = name.split("/")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return out


def snapshot_path(workdir: str, batch: int, step: int) -> str:
    return os.path.join(workdir, SNAPSHOT_DIR, f"batch_{batch:03d}", f"step_{step:08d}.npz")


def write(workdir: str, batch: int, step: int, params, dtype: str = "float32") -> None:
    """Saves the parameters (leading axis: the batch's real runs) of one evaluation point."""
    path = snapshot_path(workdir, batch, step)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    arrays = {k: v.astype(dtype) for k, v in flatten(params).items()}  # astype copies
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # weights barely compress; float16 is the compact option
    atomic_write_bytes(path, buf.getvalue())


def saved_steps(workdir: str, batch: int) -> list[int]:
    folder = os.path.dirname(snapshot_path(workdir, batch, 0))
    if not os.path.isdir(folder):
        return []
    return sorted(int(m.group(1)) for m in map(_FILE.match, os.listdir(folder)) if m)


def read(workdir: str, batch: int, step: int) -> dict:
    """Nested params of every run of the batch at `step`."""
    return unflatten(load_npz(snapshot_path(workdir, batch, step)))
