"""Effect of --matmul_dtype on results: two run directories of the same sweep, run by run.

    python benchmarks/precision_effect.py --out=precision_quickstart runs/quick_fp32 runs/quick_bf16

Compares summary.csv of a reference sweep (first directory, e.g. float32) and the same
sweep in another precision (second): per run the final train/val accuracy, steps to 99%
train/val accuracy and the Doshi et al. phase; then counts. Writes
benchmarks/results/<out>.{md,csv} (the per-run table) and prints the counts.
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from absl import app, flags  # noqa: E402

from common import write_table  # noqa: E402
from grokjax.config import HPARAMS  # noqa: E402

flags.DEFINE_string("out", "precision_effect", "table name under benchmarks/results/")
flags.DEFINE_list("plot_runs", [], "also draw these runs' accuracy curves, reference solid and other dashed")
flags.DEFINE_string("plot", "", "PNG path of that figure (default benchmarks/results/<out>.png)")
flags.DEFINE_bool("logx", False, "log-scaled step axis")
flags.DEFINE_list("names", ["float32", "bfloat16"], "what the two directories are, for the figure")
FLAGS = flags.FLAGS
COMPARED = ("final_train_acc", "final_val_acc", "step_train_acc_99", "step_val_acc_99", "phase", "group")


def compare(ref: pd.DataFrame, other: pd.DataFrame) -> tuple[list[dict], list[str], dict]:
    """Per-run rows (swept hyperparameters, ref and other value of each result) and counts."""
    if len(ref) != len(other):
        raise SystemExit(f"error: the sweeps differ in size ({len(ref)} vs {len(other)} runs)")
    swept = [k for k in ("group", *HPARAMS, "model_seed") if k in ref and ref[k].nunique() > 1]
    for k in swept:
        if not ref[k].equals(other[k]) and not np.allclose(ref[k], other[k]):
            raise SystemExit(f"error: the sweeps differ in {k}; compare two runs of one sweep")
    present = [c for c in COMPARED if c in ref.columns]
    rows = []
    for i in range(len(ref)):
        row = {k: ref[k].iloc[i] for k in swept}
        for c in present:
            if c != "group":
                row[f"{c} ref"], row[f"{c} other"] = ref[c].iloc[i], other[c].iloc[i]
        rows.append(row)
    columns = swept + [f"{c} {s}" for c in present if c != "group"
                                                             for s in ("ref", "other")]
    counts = {"runs": len(ref),
              "max |d final_val_acc|": float(np.nanmax(np.abs(ref["final_val_acc"] - other["final_val_acc"]))),
              "max |d final_train_acc|": float(np.nanmax(np.abs(ref["final_train_acc"] - other["final_train_acc"])))}
    if "phase" in ref:
        counts["same phase"] = int((ref["phase"] == other["phase"]).sum())
    for c in ("step_train_acc_99", "step_val_acc_99"):
        a, b = ref[c].to_numpy(float), other[c].to_numpy(float)
        counts[f"{c}: both reached"] = int((~np.isnan(a) & ~np.isnan(b)).sum())
        counts[f"{c}: only one reached"] = int((np.isnan(a) != np.isnan(b)).sum())
        both = ~np.isnan(a) & ~np.isnan(b)
        if both.any():
            counts[f"{c}: median other/ref"] = float(np.median(b[both] / np.maximum(a[both], 1)))
    return rows, columns, counts


def plot_curves(ref_dir: str, other_dir: str, runs: list[int], labels: list[str], path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = [np.load(os.path.join(d, "metrics.npz")) for d in (ref_dir, other_dir)]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, metric in zip(axes, ("train_acc", "val_acc")):
        for j, run in enumerate(runs):
            for npz, style, name in zip(curves, ("-", "--"), FLAGS.names):
                steps = np.maximum(npz["steps"], 1) if FLAGS.logx else npz["steps"]
                ax.plot(steps, npz[metric][run], style, color=f"C{j}", label=f"{labels[j]} ({name})")
        ax.set(title=metric, xlabel="step", xscale="log" if FLAGS.logx else "linear")
    axes[0].set_ylabel("accuracy")
    axes[1].legend(fontsize=6, ncol=2)
    fig.suptitle(f"solid: {FLAGS.names[0]} ({ref_dir})   dashed: {FLAGS.names[1]} ({other_dir})", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


def main(argv):
    if len(argv) != 3:
        raise SystemExit("error: give two run directories: the reference sweep and the same sweep in another precision")
    ref_dir, other_dir = argv[1:]
    ref, other = (pd.read_csv(os.path.join(d, "summary.csv")) for d in (ref_dir, other_dir))
    rows, columns, counts = compare(ref, other)
    notes = "; ".join(f"{k}: {v:.4g}" if isinstance(v, float) else f"{k}: {v}" for k, v in counts.items())
    write_table(FLAGS.out, f"ref = {ref_dir}, other = {other_dir}. {notes}", rows, columns, "n/a (no timing)")
    if FLAGS.plot_runs:
        runs = [int(r) for r in FLAGS.plot_runs]
        swept = [c for c in columns if " " not in c]
        labels = [", ".join(f"{k}={rows[r][k]}" for k in swept) for r in runs]
        default = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", f"{FLAGS.out}.png")
        plot_curves(ref_dir, other_dir, runs, labels, FLAGS.plot or default)


if __name__ == "__main__":
    app.run(main)
