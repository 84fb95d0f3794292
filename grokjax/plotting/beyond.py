"""Intervention comparison: curves per grid point of the swept hyperparameters, median over seeds with
range, and the steps to a threshold per grid point with a bootstrap interval of the median."""
from __future__ import annotations

from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from grokjax.train.summary import grid_point_times, grid_points  # noqa: E402


def _label(values) -> str:
    """A grid point named by its axes' values: `lr=0.01, wd=1`."""
    return ", ".join(f"{name}={value:g}" for name, value in values)


def plot_by_value(path: str, steps: np.ndarray, curves: dict[str, np.ndarray], axes: dict[str, np.ndarray],
                  metrics: Sequence[str], log_y: Sequence[str] = ()) -> None:
    """One panel per metric: for each grid point of `axes` (name -> per-run values), the median over
    its runs (seeds) and a band from their minimum to maximum. Metrics in `log_y` get a log y axis."""
    ncols = min(3, len(metrics))  # rows of at most three panels
    nrows = -(-len(metrics) // ncols)
    fig, panels = plt.subplots(nrows, ncols, figsize=(4.4 * ncols, 3.4 * nrows), squeeze=False)
    for ax in panels.flat[len(metrics):]:
        ax.set_visible(False)
    for ax, name in zip(panels.flat, metrics):
        for values, mask in grid_points(axes):
            runs = curves[name][mask]
            ax.plot(steps, np.nanmedian(runs, 0), label=f"{_label(values.items())} (n={len(runs)})")
            ax.fill_between(steps, np.nanmin(runs, 0), np.nanmax(runs, 0), alpha=0.2)
        ax.set_xlabel("step")
        if name in log_y:
            ax.set_yscale("log")
        ax.set_title(name)
    panels[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_grid_point_times(path: str, points: dict[str, np.ndarray], axes: list[str], title: str) -> None:
    """grid_points.csv drawn: the median steps to 99% validation against the first axis, one line per
    value of the second, with the bootstrap 95% interval as error bars (an open end: the interval
    reaches past the budget). Points where fewer than half of the runs got there are left out."""
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    x_name = axes[0]
    series = sorted(set(points[axes[1]].tolist())) if len(axes) > 1 else [None]
    for value in series:
        rows = np.ones(len(points["runs"]), bool) if value is None else points[axes[1]] == value
        rows &= np.isfinite(points["median_step"])
        x, med = points[x_name][rows], points["median_step"][rows]
        hi = np.where(np.isfinite(points["median_ci95_high"][rows]), points["median_ci95_high"][rows], med)
        err = np.stack([med - points["median_ci95_low"][rows], hi - med])
        ax.errorbar(x, med, yerr=err, marker="o", capsize=3, label=None if value is None else f"{axes[1]}={value:g}")
    ax.set_xlabel(x_name)
    ax.set_ylabel("steps to 99% validation")
    if np.all(points[x_name] > 0) and points[x_name].max() / points[x_name].min() >= 10:
        ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_title(title + f"\nmedian over {int(points['runs'].max())} seeds, 95% bootstrap interval", fontsize=8)
    if len(series) > 1:
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _step(v: float, budget: int) -> str:
    return f"{v:.0f}" if np.isfinite(v) else f"> {budget}"


def _interval(low: float, high: float, budget: int) -> str:
    """A median's interval; an end past the budget (runs that never reached) reads "> budget"."""
    if not np.isfinite(low):
        return f"> {budget}"
    return f"{low:.0f}-{high:.0f}" if np.isfinite(high) else f"{low:.0f} to > {budget}"


def steps_to_threshold_table(step_G: np.ndarray, axes: dict[str, np.ndarray], budget: int) -> list[str]:
    """Markdown rows of grid_point_times: one per grid point, runs that reached the threshold, the
    median step (runs that never did count as later than `budget`), its bootstrap 95% interval, and
    the range of the runs that did."""
    rows = [f"| {', '.join(axes)} | reached / runs | median step | 95% interval of the median | range |",
            "| --- | --- | --- | --- | --- |"]
    t = grid_point_times(step_G, axes)
    for i in range(len(t["runs"])):
        rng = f"{t['min_step'][i]:.0f}-{t['max_step'][i]:.0f}" if t["reached"][i] else "-"
        rows.append(f"| {_label((n, t[n][i]) for n in axes)} | {t['reached'][i]} / {t['runs'][i]} | {_step(t['median_step'][i], budget)} | "
                    f"{_interval(t['median_ci95_low'][i], t['median_ci95_high'][i], budget)} | {rng} |")
    return rows
