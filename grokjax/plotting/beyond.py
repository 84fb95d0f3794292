"""Intervention comparison: curves per value of one swept hyperparameter, median over seeds with range."""
from __future__ import annotations

from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def plot_by_value(path: str, steps: np.ndarray, curves: dict[str, np.ndarray], values: np.ndarray,
                  axis: str, metrics: Sequence[str]) -> None:
    """One panel per metric: for each value of `axis` (one entry per run), the median over its runs
    (seeds) and a band from their minimum to maximum."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.4 * len(metrics), 3.4), squeeze=False)
    for ax, name in zip(axes[0], metrics):
        for v in np.unique(values):
            runs = curves[name][values == v]
            ax.plot(steps, np.nanmedian(runs, 0), label=f"{axis}={v:g} (n={len(runs)})")
            ax.fill_between(steps, np.nanmin(runs, 0), np.nanmax(runs, 0), alpha=0.2)
        ax.set_xlabel("step")
        ax.set_title(name)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def steps_to_threshold_table(step_GxT: np.ndarray, values: np.ndarray, axis: str, budget: int) -> list[str]:
    """Markdown rows: per value, runs that reached the threshold, the median step (runs that never did
    count as later than `budget`) and the range over the runs that did."""
    rows = [f"| {axis} | reached / runs | median step | range |", "| --- | --- | --- | --- |"]
    for v in np.unique(values):
        s = step_GxT[values == v]
        hit = s[np.isfinite(s)]
        median = np.median(np.where(np.isfinite(s), s, np.inf))  # a run that never reached it counts as late
        med = f"{median:.0f}" if np.isfinite(median) else f"> {budget}"
        rng = f"{hit.min():.0f}-{hit.max():.0f}" if len(hit) else "-"
        rows.append(f"| {v:g} | {len(hit)} / {len(s)} | {med} | {rng} |")
    return rows
