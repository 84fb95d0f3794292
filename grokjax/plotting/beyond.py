"""Intervention comparison: curves per grid point of the swept hyperparameters, median over seeds with
range, and the steps to a threshold per grid point with a bootstrap interval of the median."""
from __future__ import annotations

from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def grid_points(axes: dict[str, np.ndarray]) -> list[tuple[str, np.ndarray]]:
    """(label, run mask) of each distinct combination of the axes' per-run values, in sorted order."""
    names = list(axes)
    combos = sorted({tuple(float(axes[n][i]) for n in names) for i in range(len(axes[names[0]]))})
    out = []
    for combo in combos:
        mask = np.all([axes[n] == v for n, v in zip(names, combo)], axis=0)
        out.append((", ".join(f"{n}={v:g}" for n, v in zip(names, combo)), mask))
    return out


def plot_by_value(path: str, steps: np.ndarray, curves: dict[str, np.ndarray], axes: dict[str, np.ndarray],
                  metrics: Sequence[str]) -> None:
    """One panel per metric: for each grid point of `axes` (name -> per-run values), the median over
    its runs (seeds) and a band from their minimum to maximum."""
    fig, panels = plt.subplots(1, len(metrics), figsize=(4.4 * len(metrics), 3.4), squeeze=False)
    for ax, name in zip(panels[0], metrics):
        for label, mask in grid_points(axes):
            runs = curves[name][mask]
            ax.plot(steps, np.nanmedian(runs, 0), label=f"{label} (n={len(runs)})")
            ax.fill_between(steps, np.nanmin(runs, 0), np.nanmax(runs, 0), alpha=0.2)
        ax.set_xlabel("step")
        ax.set_title(name)
    panels[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def median_interval(steps: np.ndarray, n_boot: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Bootstrap 95% interval of the median (runs that never reached the threshold are +inf)."""
    rng = np.random.default_rng(seed)
    samples = rng.choice(steps, size=(n_boot, len(steps)), replace=True)
    medians = np.median(samples, axis=1)
    # Order statistics, not interpolation: a median may be +inf (more than half the draws never reached it).
    return float(np.percentile(medians, 2.5, method="lower")), float(np.percentile(medians, 97.5, method="higher"))


def _step(v: float, budget: int) -> str:
    return f"{v:.0f}" if np.isfinite(v) else f"> {budget}"


def steps_to_threshold_table(step_G: np.ndarray, axes: dict[str, np.ndarray], budget: int) -> list[str]:
    """Markdown rows, one per grid point: runs that reached the threshold, the median step (runs that
    never did count as later than `budget`), its bootstrap 95% interval, and the range of the runs that did."""
    rows = [f"| {', '.join(axes)} | reached / runs | median step | 95% interval of the median | range |",
            "| --- | --- | --- | --- | --- |"]
    for label, mask in grid_points(axes):
        s = np.where(np.isfinite(step_G[mask]), step_G[mask], np.inf)
        hit = s[np.isfinite(s)]
        lo, hi = median_interval(s)
        rng = f"{hit.min():.0f}-{hit.max():.0f}" if len(hit) else "-"
        rows.append(f"| {label} | {len(hit)} / {len(s)} | {_step(np.median(s), budget)} | "
                    f"{_step(lo, budget)}-{_step(hi, budget)} | {rng} |")
    return rows
