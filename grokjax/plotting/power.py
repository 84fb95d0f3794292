"""The figures of Power et al. (2022), drawn from a sweep's summary and curves."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from grokjax.plotting.style import finish, log_step_axis, save  # noqa: E402


def _save(fig, path: str) -> None:
    finish(fig)
    save(fig, path)  # long titles and outside legends stay whole


def plot_grokking(path: str, steps: np.ndarray, curves: dict[str, np.ndarray], title: str,
                  labels: list[str] | None = None) -> None:
    """Figure 1 left + Figure 4: accuracy and loss, train (red) and validation (green), log steps.

    Several runs are told apart by line style, named by `labels`."""
    fig, (acc, loss) = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
    styles = ("-", "--", ":", "-.")
    n = len(curves["train_acc"])
    labels = labels or [""] * n
    for i in range(n):
        ls, tag = styles[i % len(styles)], f" ({labels[i]})" if labels[i] else ""
        acc.plot(steps, 100 * curves["train_acc"][i], ls, color="tab:red", lw=1.2, label=f"train{tag}")
        acc.plot(steps, 100 * curves["val_acc"][i], ls, color="tab:green", lw=1.2, label=f"val{tag}")
        loss.plot(steps, curves["train_loss"][i], ls, color="tab:red", lw=1.2, label=f"train{tag}")
        loss.plot(steps, curves["val_loss"][i], ls, color="tab:green", lw=1.2, label=f"val{tag}")
    for ax in (acc, loss):
        log_step_axis(ax, steps, "optimization steps")
        ax.legend(frameon=False, fontsize=7)
        ax.grid(alpha=0.3)
    acc.set_ylabel("accuracy (%)")
    acc.set_ylim(-2, 102)
    loss.set_ylabel("loss")
    loss.set_yscale("log")
    fig.suptitle(title, fontsize=9)
    _save(fig, path)


def median_by(x: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per distinct x: the median of `values` where a run that never got there (NaN) counts as
    infinitely late, so the median is NaN once half the runs failed; and the fraction that got there."""
    xs = np.unique(x)
    med, reached = [], []
    for v in xs:
        sel = values[x == v]
        filled = np.where(np.isnan(sel), np.inf, sel)
        m = float(np.median(filled))
        med.append(m if np.isfinite(m) else np.nan)
        reached.append(float(np.mean(~np.isnan(sel))))
    return xs, np.asarray(med), np.asarray(reached)


def plot_learning_time(path: str, frac: np.ndarray, step_val: np.ndarray, step_train: np.ndarray,
                       budget: int, title: str) -> None:
    """Figure 1 center: median steps until 99% val (and train) accuracy against training fraction."""
    fig, ax = plt.subplots(figsize=(5.5, 3.8), layout="constrained")
    for values, color, name in ((step_val, "tab:green", "validation"), (step_train, "tab:red", "train")):
        xs, med, reached = median_by(frac, values)
        ax.plot(100 * xs, med, "o-", color=color, label=f"{name} acc >= 99% (median)")
        ax.scatter(100 * frac, np.where(np.isnan(values), np.nan, values), s=8, color=color, alpha=0.3)
        for x, m, r in zip(xs, med, reached):
            if r < 1:
                ax.annotate(f"{r:.0%}", (100 * x, m if np.isfinite(m) else budget), fontsize=6,
                            textcoords="offset points", xytext=(0, 5), ha="center", color=color)
    ax.axhline(budget, color="gray", ls=":", lw=1, label=f"budget ({budget} steps)")
    ax.set_yscale("log")
    ax.set_xlabel("training data (% of the table)")
    ax.set_ylabel("steps")
    ax.legend(fontsize=7, frameon=False)
    ax.grid(alpha=0.3)
    ax.set_title(title + "\n(percent: share of seeds that reached 99%)", fontsize=8)
    _save(fig, path)


def plot_data_efficiency(path: str, frac: np.ndarray, best_val: np.ndarray, groups: np.ndarray,
                         title: str, legend_title: str = "") -> None:
    """Figure 2 left/right and Figure 6: best validation accuracy (mean over seeds) per group."""
    fig, ax = plt.subplots(figsize=(6.5, 4), layout="constrained")
    names = list(dict.fromkeys(groups.tolist()))  # first-seen order = the paper's reading order
    colors = plt.cm.tab10(np.arange(len(names)) % 10) if len(names) <= 10 else \
        plt.cm.viridis(np.linspace(0, 0.95, len(names)))
    markers, styles = "osD^vP*X", ("-", "--", "-.", ":")  # overlapping curves stay visible
    for i, (name, color) in enumerate(zip(names, colors)):
        sel = groups == name
        xs = np.unique(frac[sel])
        mean = [np.nanmean(best_val[sel & (frac == x)]) for x in xs]
        ax.plot(100 * xs, 100 * np.asarray(mean), marker=markers[i % len(markers)], ls=styles[i % len(styles)],
                ms=5 if i % 2 else 4, mfc="none" if i % 2 else color, color=color, label=str(name))
    ax.set_xlabel("training data (% of the table)")
    ax.set_ylabel("best validation accuracy (%)")
    ax.set_ylim(-2, 102)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, title=legend_title or None, title_fontsize=7, loc="center left",
              bbox_to_anchor=(1.01, 0.5), frameon=False)
    ax.set_title(title, fontsize=8)
    _save(fig, path)


def plot_embeddings(path: str, panels: list[dict], title: str) -> None:
    """Figure 3: t-SNE panels; each dict has points (n, 2), labels (n,), name, and optional
    `shift` (draw c -> c + shift lines)."""
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.6), layout="constrained",
                             squeeze=False)
    for ax, panel in zip(axes[0], panels):
        pts, labels = panel["points"], panel["labels"]
        n_labels = int(labels.max()) + 1
        cmap = plt.cm.tab20 if n_labels > 10 else plt.cm.tab10
        if panel.get("shift"):
            n, s = len(pts), panel["shift"]
            for c in range(n):
                d = (c + s) % n
                ax.plot(pts[[c, d], 0], pts[[c, d], 1], color="gray", lw=0.5, alpha=0.6, zorder=1)
        ax.scatter(pts[:, 0], pts[:, 1], c=cmap(labels % cmap.N), s=22, zorder=2)
        for i, (x, y) in enumerate(pts if panel.get("annotate") else []):
            ax.annotate(str(i), (x, y), fontsize=5, xytext=(2, 2), textcoords="offset points")
        ax.set_title(panel["name"], fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title, fontsize=9)
    _save(fig, path)


def plot_sharpness(path: str, phi: np.ndarray, val_acc: np.ndarray, rho: float, pvalue: float, title: str) -> None:
    """Figure 7: validation accuracy against phi sharpness, one point per seed."""
    fig, ax = plt.subplots(figsize=(5.2, 3.8), layout="constrained")
    ax.scatter(phi, 100 * val_acc, s=18, color="tab:blue")
    ax.set_xlabel("sharpness phi (Keskar et al. 2016)")
    ax.set_ylabel("validation accuracy (%)")
    ax.grid(alpha=0.3)
    ax.set_title(f"{title}\nSpearman rho = {rho:.3f}, p = {pvalue:.2g}, n = {len(phi)}", fontsize=8)
    _save(fig, path)
