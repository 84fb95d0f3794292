"""Omnigrok figures: LU curves, reduced-landscape heatmaps, accuracy curves, time vs wd, (w, m) landscapes."""
from __future__ import annotations

from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from grokjax.plotting.style import finish, log_step_axis, save  # noqa: E402


def _save(fig, path: str) -> None:
    finish(fig)  # titles wrapped before the layout makes room for them
    fig.tight_layout()
    save(fig, path)


def plot_lu(path: str, alphas, rows: dict[str, tuple[np.ndarray, np.ndarray]], title: str,
            ylabel: str = "reduced loss", log_y: bool = True) -> None:
    """One panel per row label: reduced train (L) and test (U) against alpha = w / w0."""
    fig, axes = plt.subplots(1, len(rows), figsize=(4.2 * len(rows), 3.4), squeeze=False)
    for ax, (label, (train, test)) in zip(axes[0], rows.items()):
        ax.plot(alphas, train, "o-", color="tab:orange", label="train")
        ax.plot(alphas, test, "s-", color="gray", label="test")
        ax.axvline(1.0, color="k", lw=0.5, ls=":")
        ax.set_xscale("log")
        if log_y:
            ax.set_yscale("log")
        ax.set_xlabel(r"$\alpha = w / w_0$")
        ax.set_ylabel(ylabel)
        ax.set_title(label, fontsize=9)
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=9)
    _save(fig, path)


def plot_landscape_heatmaps(path: str, alphas, sizes, panels: dict[str, np.ndarray], title: str,
                            size_label: str = "training set size") -> None:
    """Heatmaps over (alpha, data size), e.g. reduced train error and test error (Fig. 3a-b)."""
    fig, axes = plt.subplots(1, len(panels), figsize=(4.4 * len(panels), 3.6), squeeze=False)
    for ax, (label, values) in zip(axes[0], panels.items()):
        im = ax.pcolormesh(np.arange(len(alphas) + 1), np.arange(len(sizes) + 1), values, cmap="viridis",
                           vmin=0, vmax=max(np.nanmax(values), 1e-6), shading="flat")
        ax.set_xticks(np.arange(len(alphas)) + 0.5, [f"{a:.2g}" if a < 100 else f"{a:.0f}" for a in alphas],
                      rotation=90, fontsize=7)
        ax.set_yticks(np.arange(len(sizes)) + 0.5, [f"{s:g}" for s in sizes], fontsize=7)
        ax.set_xlabel(r"$\alpha = w / w_0$")
        ax.set_ylabel(size_label)
        ax.set_title(label, fontsize=9)
        fig.colorbar(im, ax=ax)
    fig.suptitle(title, fontsize=9)
    _save(fig, path)


def plot_accuracy_grid(path: str, steps, panels: dict[str, dict[str, np.ndarray]], title: str,
                       ncols: int = 3, extra: str | None = None) -> None:
    """Train/test accuracy curves, one panel per run label (Fig. 2b, 3d, 9).

    Each panel maps 'train'/'test' (and optionally `extra`, e.g. 'weight_norm', on a
    second y axis) to a curve over `steps`.
    """
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 2.8 * nrows), squeeze=False)
    for ax, (label, curves) in zip(axes.flat, panels.items()):
        ax.plot(steps, curves["train"], color="tab:blue", label="train")
        ax.plot(steps, curves["test"], color="tab:red", label="test")
        log_step_axis(ax, steps)
        ax.set_ylim(-0.03, 1.03)
        ax.set_title(label, fontsize=9)
        if extra and extra in curves:
            twin = ax.twinx()
            twin.plot(steps, curves[extra], color="k", ls="--", lw=1, label=extra)
            # From 0: a constant norm (constrained runs) then shows as a flat line, not float noise.
            twin.set_ylim(0, 1.1 * max(float(np.nanmax(curves[extra])), 1e-6))
            twin.set_ylabel(extra, fontsize=8)
        ax.legend(fontsize=7, loc="lower right")
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle(title, fontsize=9)
    _save(fig, path)


def plot_time_vs(path: str, x, times: dict[str, np.ndarray], title: str, xlabel: str,
                 fits: Sequence[tuple[str, float, float, float, float]] = (), log_x: bool = True) -> None:
    """Steps to reach an accuracy against weight decay (Fig. 2c, 10) or data size (Fig. 3e).

    Each fit (legend label, slope, intercept, x_lo, x_hi) is a log-log line drawn over [x_lo, x_hi].
    """
    fig, ax = plt.subplots(figsize=(4.6, 3.6))
    x = np.asarray(x, float)
    for (label, t), marker in zip(times.items(), "os^v"):
        ax.plot(x, t, marker, label=label)
    for (label, slope, intercept, lo, hi), ls in zip(fits, ("--", "-", "-.", ":")):
        if np.isfinite(slope):
            xs = np.geomspace(lo, hi, 20)
            ax.plot(xs, 10 ** (intercept + slope * np.log10(xs)), ls, lw=1.2, label=label)
    if log_x:
        ax.set_xscale("log")
    reached = np.concatenate([np.asarray(t, float).ravel() for t in times.values()])
    if np.any(np.isfinite(reached) & (reached > 0)):  # no run reached the accuracy: an empty linear axis
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("steps")
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=9)
    _save(fig, path)


def _wm_mesh(ax, ws, ms, values, label: str, log_color: bool):
    """One (w, m) heatmap panel: log w along x, messiness m along y (Fig. 6)."""
    from matplotlib.colors import LogNorm

    values = np.asarray(values, float)
    norm = None
    if log_color:
        positive = values[np.isfinite(values) & (values > 0)]
        norm = LogNorm(vmin=max(positive.min(), 1e-4), vmax=positive.max()) if positive.size else None
    im = ax.pcolormesh(ws, ms, values, cmap="viridis", norm=norm, shading="nearest",
                       vmin=None if log_color else 0, vmax=None if log_color else 1)
    ax.set_xscale("log")
    ax.set_xlabel("decoder weight norm w")
    ax.set_ylabel("representation messiness m")
    ax.set_title(label, fontsize=9)
    ax.figure.colorbar(im, ax=ax)


def plot_wm_landscape(path: str, ws, ms, panels: dict[str, np.ndarray], title: str, *, boundary=None,
                      level: float = 0.05, star: tuple[float, float] | None = None,
                      path_wm: np.ndarray | None = None, log_panels: Sequence[str] = ()) -> None:
    """Reduced train/test loss (and accuracy) over (w, m), Fig. 6a-b.

    `boundary` (a train-loss grid) is drawn as the dashed contour `level` on every
    panel (the paper's yellow line between regions I and II); `star` marks the
    generalizing solution; `path_wm` ((T, 2) rows of (w, m)) a reduced trajectory.
    """
    ncols = min(len(panels), 2)
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.0 * ncols, 3.8 * nrows), squeeze=False)
    for ax, (label, values) in zip(axes.flat, panels.items()):
        _wm_mesh(ax, ws, ms, values, label, label in log_panels)
        if boundary is not None and np.nanmin(boundary) < level < np.nanmax(boundary):
            ax.contour(ws, ms, boundary, levels=[level], colors="yellow", linestyles="--", linewidths=1.5)
        if star is not None:
            ax.plot(*star, "*", color="lime", markersize=14, markeredgecolor="k")
        if path_wm is not None:
            ax.plot(path_wm[:, 0], path_wm[:, 1], "-", color="red", lw=1.5)
            ax.plot(*path_wm[0], "o", color="red")
            ax.plot(*path_wm[-1], "s", color="red")
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle(title, fontsize=9)
    _save(fig, path)


def plot_size_contours(path: str, ws, ms, train_losses: dict[str, np.ndarray], level: float, title: str,
                       star: tuple[float, float] | None = None) -> None:
    """Fig. 6e: the train-loss contour `level` on the (w, m) plane for each training size."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for (label, grid), color in zip(train_losses.items(), plt.cm.plasma(np.linspace(0, 0.85, len(train_losses)))):
        if np.nanmin(grid) < level < np.nanmax(grid):
            ax.contour(ws, ms, grid, levels=[level], colors=[color], linewidths=1.5)
        ax.plot([], [], color=color, label=label)
    if star is not None:
        ax.plot(*star, "*", color="lime", markersize=14, markeredgecolor="k", label="generalizing solution")
    ax.set_xscale("log")
    ax.set_xlim(np.min(ws), np.max(ws))
    ax.set_ylim(np.min(ms), np.max(ms))
    ax.set_xlabel("decoder weight norm w")
    ax.set_ylabel("representation messiness m")
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title(title, fontsize=8)
    _save(fig, path)


def plot_path_losses(path: str, t, curves: dict[str, np.ndarray], title: str) -> None:
    """Fig. 6c: reduced losses along a (w, m) trajectory against time."""
    fig, ax = plt.subplots(figsize=(4.8, 3.4))
    for label, values in curves.items():
        ax.plot(t, values, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("time t of Eq. 6 (integration steps x dt)")
    ax.set_ylabel("reduced loss")
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=9)
    _save(fig, path)
