"""Doshi et al. (2024) Figures 1, 2, 4, 6/17, 18, 8 and 23 from one finished sweep directory.

Train first. Parameter snapshots (--snapshot_steps, the last one the final step) give every figure;
a sweep without them has its final checkpoint, which gives every figure but Figure 2 (IPR over time):

    python experiments/phase_diagram.py --flagfile=experiments/flags/doshi2024_fig1.flags --workdir=runs/doshi_fig1
    python experiments/doshi2024_figures.py --workdir=runs/doshi_fig1 --out=docs/figures/doshi2024 --prefix=p97

Writes <prefix>_fig1_curves.png, _fig2_ipr_time.png, _fig4_ipr_hist.png, _fig17_pruning_acc.png,
_fig18_pruning_loss.png, _fig8_forgetting.png, _fig23_logits.png and <prefix>_numbers.json
(phases, accuracies, mean IPR, pruning end points) to --out.
"""
from __future__ import annotations

import os

import jax
import numpy as np
from absl import flags

from grokjax import cli
from grokjax.analysis import ipr as ipr_lib
from grokjax.analysis import pruning
from grokjax.analysis.analytic import mlp_outputs
from grokjax.checkpoint.reader import load_run_dir
from grokjax.config import ConfigError
from grokjax.data.datasets import operation_dataset
from grokjax.plotting import doshi as plots
from grokjax.train.run_dir import check_writable_dir, write_numbers

cli.define_flags()  # --workdir (a finished sweep directory)
FLAGS = flags.FLAGS
# Each flag only if missing: the scripts are importable together (tests).
for _define, _name, _default, _help in (
        (flags.DEFINE_string, "out", "docs/figures/doshi2024", "directory for the PNGs and the numbers JSON"),
        (flags.DEFINE_string, "prefix", "doshi", "file name prefix"),
        (flags.DEFINE_integer, "pruning_points", 51, "pruning counts from 0 to all neurons (evenly spaced)"),
        (flags.DEFINE_integer, "fig2_run", -1, "run shown in the Figure 2 panels (-1: the first that generalized)"),
        (flags.DEFINE_integer, "logit_examples", 4, "corrupted training examples shown per run (Figure 23)"),
):
    if _name not in FLAGS:
        _define(_name, _default, _help)


def corrupted_logits(cfg, grid, params, run: int, count: int):
    """Outputs, given (corrupted) labels and true answers of `count` corrupted training examples."""
    dataset = operation_dataset(cfg.op, cfg.p)
    init, _ = pruning.evaluators(cfg)  # compiled once per config
    data = init(pruning.run_hparams(grid, run)).data
    rows = np.flatnonzero(np.asarray(data.corrupted) & (np.asarray(data.labels) != dataset.targets))[:count]
    one = jax.tree.map(lambda a: a[run], params)
    out = mlp_outputs(one, dataset.inputs[rows, 0], dataset.inputs[rows, 1])
    return out, np.asarray(data.labels)[rows], np.asarray(dataset.targets)[rows]


def make_figures(workdir: str, out: str, prefix: str, pruning_points: int = 51, fig2_run: int = -1,
                 logit_examples: int = 4) -> dict:
    cfg, grid, metrics, summary, snap_steps, params_at = load_run_dir(workdir)
    if cfg.model != "mlp":
        raise ConfigError(f"--workdir holds a {cfg.model}; this script analyses the eq. 1 MLP "
                          "(for transformers use grokjax.analysis.ipr.embedding_ipr)")
    path = lambda name: os.path.join(out, f"{prefix}_{name}.png")  # noqa: E731
    steps, n_runs = metrics["steps"], len(grid["wd"])
    titles = [f"wd={grid['wd'][i]:g} dp={grid['dropout'][i]:g}: {summary['phase'][i] if 'phase' in summary else ''}"
              for i in range(n_runs)]
    if snap_steps[-1] != int(steps[-1]):
        raise ConfigError(f"the last snapshot of {workdir} is step {snap_steps[-1]}, not the final step "
                          f"{int(steps[-1])}; train with --snapshot_steps=...,{int(steps[-1])}")
    xi = float(grid["xi"][0])  # the figures' 1 - xi line: these sweeps vary wd or dropout, not xi
    final = params_at(snap_steps[-1])
    neuron = ipr_lib.neuron_ipr(final)["neuron"]  # (G, N)
    numbers = {"workdir": workdir, "static": {k: getattr(cfg, k) for k in ("p", "width", "steps", "norm", "loss")},
               "runs": []}


    # Figure 2: mean IPR at every snapshot, a row of U and the histograms before/after (needs more
    # than the final parameters: a sweep without snapshots has only its final checkpoint).
    first = params_at(snap_steps[0]) if len(snap_steps) > 1 else final
    read = {snap_steps[0]: first, snap_steps[-1]: final}  # each saved step is read once
    mean_over_time = np.stack([ipr_lib.mean_ipr(read[s] if s in read else params_at(s)) for s in snap_steps],
                              1)  # (G, S)
    os.makedirs(out, exist_ok=True)  # every saved file is read: a damaged one wrote nothing
    plots.plot_training_curves(path("fig1_curves"), steps, metrics, titles, xi)
    plots.plot_ipr_histograms(path("fig4_ipr_hist"), list(neuron), titles)
    if len(snap_steps) > 1:
        run = fig2_run if fig2_run >= 0 else int(np.argmax(np.nan_to_num(summary["best_val_acc"].to_numpy()) >= 0.9))
        k = int(np.nanargmax(ipr_lib.ipr(final["U"][run])))
        plots.plot_ipr_over_time(path("fig2_ipr_time"), snap_steps, mean_over_time[run], steps,
                                 metrics["val_acc"][run], metrics["train_acc"][run], first["U"][run, k],
                                 final["U"][run, k], ipr_lib.neuron_ipr(first)["neuron"][run], neuron[run],
                                 f"{titles[run]} (row k={k}: the highest-IPR row of U)")

    # Figures 6/17/18: prune in IPR order, both directions, every metric of the engine.
    width = final["U"].shape[1]
    counts = np.unique(np.linspace(0, width, pruning_points).round().astype(int))
    curves = {d: [] for d in pruning.DIRECTIONS}
    for i in range(n_runs):
        one = jax.tree.map(lambda a: a[i], final)
        for d in pruning.DIRECTIONS:
            curves[d].append(pruning.pruning_curves(cfg, pruning.run_hparams(grid, i), one,
                                                    pruning.pruning_order(neuron[i], d), counts))
    plots.plot_pruning(path("fig17_pruning_acc"), counts / width, curves, titles, xi, "acc")
    plots.plot_pruning(path("fig18_pruning_loss"), counts / width, curves, titles, xi, "loss")

    # Figure 8: the run with the largest weight decay; per-matrix Frobenius norms.
    big = int(np.argmax(grid["wd"]))
    norms = {name: metrics[f"norm/{name}"][big] for name in ("U", "V", "W") if f"norm/{name}" in metrics}
    plots.plot_forgetting(path("fig8_forgetting"), steps, {k: v[big] for k, v in metrics.items() if k in
                                                          plots.ACC_CURVES}, norms, titles[big], xi)

    if xi > 0 and cfg.norm == "none" and cfg.depth == 1 and cfg.activation == "quadratic":
        logits = [corrupted_logits(cfg, grid, final, i, logit_examples) for i in range(n_runs)]
        plots.plot_logits(path("fig23_logits"), [l[0] for l in logits], [l[1] for l in logits],
                          [l[2] for l in logits], titles)

    half = int(np.searchsorted(counts, width // 2))
    for i in range(n_runs):
        low, high = curves["low_first"][i], curves["high_first"][i]
        numbers["runs"].append({
            "wd": float(grid["wd"][i]), "dropout": float(grid["dropout"][i]), "frac": float(grid["frac"][i]),
            "xi": float(grid["xi"][i]), "phase": str(summary["phase"][i]) if "phase" in summary else None,
            **{c: float(summary[c][i]) for c in ("final_train_acc", "final_val_acc", "final_train_clean_acc",
                                                 "final_train_corrupt_acc", "final_train_corrupt_true_acc",
                                                 "best_val_acc")},
            "mean_ipr_final": float(np.nanmean(neuron[i])),
            "frac_neurons_ipr_below_0.2": float(np.mean(neuron[i] < 0.2)),
            "mean_ipr_over_time": dict(zip(map(str, snap_steps), mean_over_time[i].round(4).tolist())),
            "prune_half_low_first": {k: float(low[k][half]) for k in ("val_acc", "train_clean_acc",
                                                                      "train_corrupt_acc", "train_acc")},
            "prune_half_high_first": {k: float(high[k][half]) for k in ("val_acc", "train_clean_acc",
                                                                        "train_corrupt_acc", "train_acc")},
            "max_pruned_low_first_val_acc_0.9": pruning.max_prunable(low["val_acc"], counts, 0.9)})
    return write_numbers(out, f"{prefix}_numbers.json", numbers)


def main(argv):
    del argv  # cli.parse_flags_or_exit already refused positional arguments
    try:
        cli.require_workdir(FLAGS.workdir)
        check_writable_dir(FLAGS.out, "--out")
        if FLAGS.pruning_points < 2:
            raise ConfigError(f"--pruning_points={FLAGS.pruning_points} must be >= 2")
        make_figures(FLAGS.workdir, FLAGS.out, FLAGS.prefix, FLAGS.pruning_points, FLAGS.fig2_run,
                     FLAGS.logit_examples)
    except (ConfigError, FileNotFoundError) as err:
        cli.exit_on_config_error(ConfigError(str(err).splitlines()[0]))


if __name__ == "__main__":
    cli.run_script(main)
