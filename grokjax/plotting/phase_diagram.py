"""Heatmaps over two swept hyperparameters (seeds aggregated) and training curves."""
from __future__ import annotations

import collections

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from grokjax.analysis.phases import PHASES  # noqa: E402
from grokjax.plotting.style import finish, log_step_axis, save  # noqa: E402

PHASE_COLORS = {"coexistence": "#4c72b0", "partial_inversion": "#55a868", "full_inversion": "#c9b13c",
                "memorization": "#c44e52", "forgetting": "#8172b2", "confusion": "#937860",
                "diverged": "#000000"}
PHASE_ORDER = (*PHASES, "diverged")


def grid_cells(grid: dict, x_axis: str, y_axis: str | None):
    """Sorted axis values and, per run, its (y index, x index) cell."""
    xs = np.unique(grid[x_axis])
    ys = np.unique(grid[y_axis]) if y_axis else np.zeros(1)
    xi = np.searchsorted(xs, grid[x_axis])
    yi = np.searchsorted(ys, grid[y_axis]) if y_axis else np.zeros_like(xi)
    return xs, ys, yi, xi


def cell_mean(values, grid, x_axis, y_axis):
    xs, ys, yi, xi = grid_cells(grid, x_axis, y_axis)
    total, count = np.zeros((len(ys), len(xs))), np.zeros((len(ys), len(xs)))
    finite = ~np.isnan(values)
    np.add.at(total, (yi[finite], xi[finite]), values[finite])
    np.add.at(count, (yi[finite], xi[finite]), 1)
    with np.errstate(invalid="ignore"):
        return xs, ys, total / count


def cell_mode(labels, grid, x_axis, y_axis):
    """The most common label of each cell (over seeds); ties go to the earlier phase."""
    xs, ys, yi, xi = grid_cells(grid, x_axis, y_axis)
    bins = collections.defaultdict(list)
    for label, a, b in zip(labels, yi, xi):
        bins[(a, b)].append(label)
    out = np.full((len(ys), len(xs)), -1)
    for (a, b), cell in bins.items():
        counts = collections.Counter(cell)
        out[a, b] = min(PHASE_ORDER.index(k) for k in counts if counts[k] == max(counts.values()))
    return xs, ys, out


def _axes(ax, xs, ys, x_axis, y_axis):
    ax.set_xticks(range(len(xs)), [f"{v:g}" for v in xs], rotation=90, fontsize=7)
    ax.set_yticks(range(len(ys)), [f"{v:g}" for v in ys] if y_axis else [""], fontsize=7)
    ax.set_xlabel(x_axis)
    if y_axis:
        ax.set_ylabel(y_axis)


def plot_heatmap(path, values, grid, x_axis, y_axis, title, vmin=0.0, vmax=1.0):
    xs, ys, mean = cell_mean(np.asarray(values, np.float64), grid, x_axis, y_axis)
    fig, ax = plt.subplots(figsize=(1.5 + 0.35 * len(xs), 1.5 + 0.35 * len(ys)), layout="constrained")
    image = ax.imshow(mean, origin="lower", cmap="viridis", vmin=vmin, vmax=vmax, aspect="auto")
    fig.colorbar(image, ax=ax, shrink=0.8)
    _axes(ax, xs, ys, x_axis, y_axis)
    ax.set_title(title, fontsize=9)
    finish(fig)
    save(fig, path)


def plot_phase_diagram(path, phases, grid, x_axis, y_axis, title):
    xs, ys, codes = cell_mode(list(phases), grid, x_axis, y_axis)
    fig, ax = plt.subplots(figsize=(3.2 + 0.35 * len(xs), 1.5 + 0.35 * len(ys)), layout="constrained")
    cmap = ListedColormap([PHASE_COLORS[p] for p in PHASE_ORDER])
    ax.imshow(np.ma.masked_less(codes, 0), origin="lower", cmap=cmap, vmin=-0.5,
              vmax=len(PHASE_ORDER) - 0.5, aspect="auto")
    _axes(ax, xs, ys, x_axis, y_axis)
    present = [p for i, p in enumerate(PHASE_ORDER) if np.any(codes == i)]
    ax.legend(handles=[Patch(color=PHASE_COLORS[p], label=p.replace("_", " ")) for p in present],
              loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=7, frameon=False)
    ax.set_title(title, fontsize=9)
    finish(fig)
    save(fig, path)


def plot_curves(path, steps, curves, labels, title, log_x=True):
    """Train (dashed) and validation (solid) accuracy of each run; at most 12 runs drawn."""
    fig, ax = plt.subplots(figsize=(6, 3.6), layout="constrained")
    colors = plt.cm.viridis(np.linspace(0, 0.9, min(len(labels), 12)))
    for i, color in zip(range(min(len(labels), 12)), colors):
        ax.plot(steps, curves["train_acc"][i], "--", color=color, lw=1)
        ax.plot(steps, curves["val_acc"][i], "-", color=color, lw=1.5, label=labels[i])
    if log_x:
        log_step_axis(ax, steps, "optimization step")
    else:
        ax.set_xlabel("optimization step")
    ax.set_ylabel("accuracy (train dashed, val solid)")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=6, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    ax.set_title(title, fontsize=9)
    finish(fig)
    save(fig, path)
