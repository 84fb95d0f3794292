"""Figures of Doshi et al. (2024): training curves, IPR over time and histograms, pruning, norms, logits."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from grokjax.plotting.style import finish, log_step_axis, save  # noqa: E402

ACC_CURVES = {"train_acc": ("train", "C0"), "val_acc": ("test", "C1"),
              "train_clean_acc": ("train, clean", "C2"), "train_corrupt_acc": ("train, corrupted (given label)", "C3"),
              "train_corrupt_true_acc": ("train, corrupted (true label)", "C4")}


def _save(fig, path: str, left: float = 0.08, bottom: float = 0.14) -> None:
    # Fixed margins (tight_layout would cost a full extra draw per figure); the saved bounding box
    # still grows to every label, so a long tick label cannot be clipped.
    fig.subplots_adjust(left=left, right=0.98, bottom=bottom, top=0.9, wspace=0.35, hspace=0.55)
    finish(fig)
    save(fig, path, dpi=100)


def _accuracy_panel(ax, steps, curves: dict, run: int | None, xi: float) -> None:
    """Every accuracy curve of ACC_CURVES present (row `run`, or the 1-d curves) and the 1 - xi line."""
    for name, (label, color) in ACC_CURVES.items():
        if name in curves:
            ax.plot(steps, curves[name] if run is None else curves[name][run], label=label, color=color, lw=1.4)
    ax.axhline(1 - xi, color="gray", ls=":", lw=1, label=f"1 - xi = {1 - xi:.2f}")
    ax.set_ylim(-0.02, 1.02)
    log_step_axis(ax, steps)


def plot_training_curves(path: str, steps: np.ndarray, curves: dict, titles: list[str], xi: float) -> None:
    """Figure 1: one panel per run; train/test accuracy and the clean/corrupted split."""
    n = len(titles)
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.4), squeeze=False)
    for i, ax in enumerate(axes[0]):
        _accuracy_panel(ax, steps, curves, i, xi)
        ax.set_title(titles[i], fontsize=9)
    axes[0][0].set_ylabel("accuracy")
    axes[0][-1].legend(fontsize=7, loc="lower right")
    _save(fig, path)


LOSS_CURVES = {"val_loss": ("test", "C1"), "train_clean_loss": ("train, clean", "C2"),
               "train_corrupt_loss": ("train, corrupted (given label)", "C3")}


def plot_run_curves(path: str, steps: np.ndarray, curves: dict, titles: list[str], xis: list[float]) -> None:
    """Figures 19-22: a column per run; accuracies with the clean/corrupted split above, losses below."""
    n = len(titles)
    fig, axes = plt.subplots(2, n, figsize=(4.2 * n, 6.4), squeeze=False)
    for i in range(n):
        _accuracy_panel(axes[0][i], steps, curves, i, xis[i])
        axes[0][i].set_title(titles[i], fontsize=9)
        for name, (label, color) in LOSS_CURVES.items():
            if name in curves:
                axes[1][i].plot(steps, curves[name][i], label=label, color=color, lw=1.4)
        axes[1][i].set_yscale("log")
        log_step_axis(axes[1][i], steps)
    axes[0][0].set_ylabel("accuracy")
    axes[1][0].set_ylabel("loss")
    axes[0][-1].legend(fontsize=7, loc="lower right")
    axes[1][-1].legend(fontsize=7)
    _save(fig, path, bottom=0.08)


def plot_ipr_over_time(path: str, snap_steps, mean_ipr, steps, val_acc, train_acc, row_before, row_after,
                       ipr_before, ipr_after, title: str) -> None:
    """Figure 2: (a) accuracies and mean IPR over time; (b) a row of U; (c) IPR histograms."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
    ax = axes[0]
    ax.plot(steps, train_acc, label="train acc", color="C0")
    ax.plot(steps, val_acc, label="test acc", color="C1")
    ax.plot(snap_steps, mean_ipr, "o-", label="mean IPR", color="C2")
    log_step_axis(ax, np.concatenate([np.asarray(steps), np.asarray(snap_steps)]))
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=7)
    ax.set_title(title, fontsize=9)
    axes[1].plot(row_before, label=f"step {snap_steps[0]}", color="C7")
    axes[1].plot(row_after, label=f"step {snap_steps[-1]}", color="C3")
    axes[1].set_xlabel("input i")
    axes[1].set_title("a row U[k, :] before and after grokking", fontsize=9)
    axes[1].legend(fontsize=7)
    bins = np.linspace(0, 1, 26)
    axes[2].hist(ipr_before, bins=bins, alpha=0.6, label=f"step {snap_steps[0]}", color="C7")
    axes[2].hist(ipr_after, bins=bins, alpha=0.6, label=f"step {snap_steps[-1]}", color="C3")
    axes[2].set_xlabel("per-neuron IPR")
    axes[2].set_ylabel("neurons")
    axes[2].legend(fontsize=7)
    _save(fig, path)


def plot_ipr_histograms(path: str, iprs: list[np.ndarray], titles: list[str], xlabel: str = "per-neuron IPR") -> None:
    """Figures 4, 7, 12: one IPR histogram per run."""
    n = len(iprs)
    fig, axes = plt.subplots(1, n, figsize=(3.6 * n, 3.0), squeeze=False)
    bins = np.linspace(0, 1, 26)
    for ax, values, title in zip(axes[0], iprs, titles):
        ax.hist(values[np.isfinite(values)], bins=bins, color="C0")
        ax.set_xlabel(xlabel)
        ax.set_title(title, fontsize=9)
    axes[0][0].set_ylabel("neurons")
    _save(fig, path)


def plot_pruning(path: str, fraction: np.ndarray, curves: dict[str, dict], titles: list[str], xi: float,
                 kind: str = "acc") -> None:
    """Figures 6/17 (kind='acc') and 18 (kind='loss'): rows = runs, columns = pruning direction."""
    names = {"val": "test", "train_clean": "train, clean", "train_corrupt": "train, corrupted", "train": "train"}
    directions = ("low_first", "high_first")
    fig, axes = plt.subplots(len(titles), 2, figsize=(9, 3.0 * len(titles)), squeeze=False)
    for r, title in enumerate(titles):
        for c, direction in enumerate(directions):
            ax = axes[r][c]
            run = curves[direction][r]
            for i, (key, label) in enumerate(names.items()):
                ax.plot(fraction, run[f"{key}_{kind}"], label=label, color=f"C{i}")
            if kind == "acc":
                ax.axhline(1 - xi, color="gray", ls=":", lw=1)
                ax.set_ylim(-0.02, 1.02)
            else:
                ax.set_yscale("log")
            ax.set_title(f"{title}: prune {direction.replace('_', ' ')} IPR", fontsize=9)
            ax.set_xlabel("fraction of neurons pruned")
            ax.set_ylabel(kind)
    axes[0][0].legend(fontsize=7)
    _save(fig, path)


def plot_forgetting(path: str, steps, curves: dict, norms: dict[str, np.ndarray], title: str, xi: float) -> None:
    """Figure 8: (a) accuracies, (b) Frobenius norm of each weight matrix, against time."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    _accuracy_panel(axes[0], steps, curves, None, xi)
    axes[0].set_ylabel("accuracy")
    axes[0].legend(fontsize=7)
    axes[0].set_title(title, fontsize=9)
    for name, values in norms.items():
        axes[1].plot(steps, values, label=name)
    axes[1].set_yscale("log")
    log_step_axis(axes[1], steps)
    axes[1].set_ylabel("Frobenius norm")
    axes[1].legend(fontsize=7)
    _save(fig, path)


def plot_logits(path: str, logits: list[np.ndarray], given: list[np.ndarray], true: list[np.ndarray],
                titles: list[str]) -> None:
    """Figure 23: outputs on corrupted training examples; red = corrupted label, blue = true label."""
    rows, cols = len(titles), logits[0].shape[0]
    fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, 2.4 * rows), squeeze=False)
    for r in range(rows):
        for c in range(cols):
            ax = axes[r][c]
            out = logits[r][c]
            ax.plot(out, ".", color="0.6", ms=3)
            ax.plot(true[r][c], out[true[r][c]], "o", color="C0", label="true label")
            ax.plot(given[r][c], out[given[r][c]], "o", color="C3", label="corrupted label")
            ax.set_title(titles[r] if c == 0 else "", fontsize=9, loc="left")
            ax.set_xlabel("output index")
    axes[0][0].legend(fontsize=7)
    _save(fig, path, left=0.05, bottom=0.08)


def plot_scatter(path: str, x, y, xlabel: str, ylabel: str, title: str) -> None:
    """Figure 5 (right): BatchNorm weight against neuron IPR."""
    plot_scatters(path, [(x, y, xlabel, ylabel, title)])


def plot_scatters(path: str, panels: list[tuple]) -> None:
    """Figures 5 and 15: one scatter per (x, y, xlabel, ylabel, title) panel, side by side."""
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4), squeeze=False)
    for ax, (x, y, xlabel, ylabel, title) in zip(axes[0], panels):
        ax.plot(x, y, ".", ms=4)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=9)
    _save(fig, path, left=0.18 / len(panels))


def plot_analytic(path: str, widths, accuracies: dict[int, list[float]], ipr_values: np.ndarray, title: str) -> None:
    """Appendix D: accuracy of the eq. 2 solution against width; its per-neuron IPR."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for p, acc in accuracies.items():
        axes[0].plot(widths, acc, "o-", label=f"p = {p}")
    axes[0].set_xscale("log")
    axes[0].set_xlabel("width N")
    axes[0].set_ylabel("accuracy on all p^2 pairs")
    axes[0].legend(fontsize=7)
    axes[0].set_title(title, fontsize=9)
    axes[1].hist(ipr_values, bins=np.linspace(0, 1.0001, 26))
    axes[1].set_xlabel("per-neuron IPR (eq. 2 solution)")
    _save(fig, path)


def plot_prune_width(path: str, widths, summary: dict, title: str) -> None:
    """Figure 32: neurons needed after low-IPR pruning, and the prunable fraction, against width."""
    need = np.array([summary[str(w)]["neurons_needed_mean"] for w in widths])
    sem = np.array([summary[str(w)]["neurons_needed_sem"] for w in widths])
    frac = np.array([summary[str(w)]["fraction_prunable_mean"] for w in widths])
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    axes[0].errorbar(widths, need, yerr=sem, fmt="o-")
    axes[0].set_ylabel("neurons needed after pruning")
    axes[1].plot(widths, 100 * frac, "o-")
    axes[1].set_ylabel("% of neurons prunable")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("width N")
    axes[0].set_title(title, fontsize=8)
    _save(fig, path)


def plot_ipr_histogram_grid(path: str, final: np.ndarray, initial: np.ndarray | None, titles: list[str],
                            n_cols: int, xlabel: str) -> None:
    """Figures 7, 12-14: one IPR histogram per run on a rows x columns grid of the sweep's axes.

    `final` (and `initial`, drawn behind it in gray when given) are (runs, neurons); runs are
    laid out row-major, `n_cols` per row (the sweep's x axis), as in the phase diagram.
    """
    n = len(titles)
    n_rows = -(-n // n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(3.4 * n_cols, 2.7 * n_rows), squeeze=False)
    bins = np.linspace(0, 1, 26)
    for i, ax in enumerate(axes.ravel()):
        if i >= n or not titles[i]:  # past the last run, or padding of a shorter row
            ax.set_axis_off()
            continue
        if initial is not None:
            ax.hist(initial[i][np.isfinite(initial[i])], bins=bins, color="C7", alpha=0.5, label="init")
        ax.hist(final[i][np.isfinite(final[i])], bins=bins, color="C0", alpha=0.8, label="trained")
        ax.set_title(titles[i], fontsize=8)
        ax.set_xlabel(xlabel, fontsize=8)
    axes[0][0].set_ylabel("count")
    axes[0][-1].legend(fontsize=7)
    _save(fig, path, bottom=0.08)
