"""Doshi et al. (2024) Figure 32: how many low-IPR neurons can be pruned while keeping generalization.

    python experiments/doshi2024_prune_width.py --widths=500,1000,2000,5000,10000 --seeds=40 \
        --out=runs/doshi_fig32          # the paper's setting (GPU-sized)

For each width: train --seeds runs (one vmapped sweep; lr 0.005, wd 1, AdamW, MSE,
frac 0.5, xi 0.35 by default, every other setting a grokjax flag), prune neurons from
the lowest IPR up and record the most that can go while test accuracy stays
>= --threshold. Writes prune_width.csv (one row per run), prune_width.png, prune_width.json.
--out is a labelled set of run directories (grokjax.train.run_dir.SweepSet): each width's sweep
is checkpointed in --out/sweeps/width_<N> (--checkpoint_every, as phase_diagram.py), with its live
metrics stream; run the same command again to resume; finished widths are read back, not retrained.
"""
from __future__ import annotations

import dataclasses
import json
import os

import jax
import numpy as np
from absl import flags

from grokjax import cli
from grokjax.analysis import pruning
from grokjax.analysis.ipr import neuron_ipr
from grokjax.checkpoint.store import CheckpointOptions
from grokjax.config import ConfigError, validate_static
from grokjax.data.datasets import operation_dataset
from grokjax.errors import check_value
from grokjax.plotting.doshi import plot_prune_width
from grokjax.train import run_dir
from grokjax.train.experiment import run_set_member
from grokjax.train.sweep import check_grid_fits, check_run_memory, make_grid

cli.define_flags()
FLAGS = flags.FLAGS
# Each flag only if missing: the scripts are importable together (tests).
for _define, _name, _default, _help in (
        (flags.DEFINE_string, "widths", "500,1000,2000,5000,10000", "network widths N"),
        (flags.DEFINE_float, "threshold", 0.9, "test accuracy that counts as still generalizing"),
        (flags.DEFINE_integer, "pruning_points", 101, "pruning counts evaluated per run (0 .. N, evenly spaced)"),
        (flags.DEFINE_string, "out", "", "output directory"),
):
    if _name not in FLAGS:
        _define(_name, _default, _help)

def prune_width_experiment(base_cfg, hparams: dict, widths: list[int], seeds: int, threshold: float,
                           points: int, out: str, progress: bool = True,
                           checkpoint: CheckpointOptions = CheckpointOptions(), flags_text: str = "",
                           overwrite: bool = False) -> dict:
    """Each width's sweep is the run directory out/sweeps/width_<N> (resumable, `checkpoint`)."""
    grid = make_grid(hparams, seeds=seeds)
    sweeps = {f"width_{w}": {"width": w, "grid": {k: v.tolist() for k, v in grid.items()}} for w in widths}
    run_dir.start(out, run_dir.sweep_set_config(base_cfg, sweeps, {"threshold": threshold, "points": points}),
                  flags_text, overwrite, flag="--out")
    rows = {"width": [], "seed": [], "final_val_acc": [], "max_pruned": [], "neurons_needed": []}
    for width in widths:
        cfg = dataclasses.replace(base_cfg, width=width)
        result = run_set_member(out, f"width_{width}", cfg, grid, [], keep_params=True, progress=progress,
                                checkpoint=checkpoint, flags_text=flags_text, overwrite=overwrite)
        iprs = neuron_ipr(result.params)["neuron"]
        counts = np.unique(np.linspace(0, width, points).round().astype(int))
        for s in range(seeds):
            one = jax.tree.map(lambda a: a[s], result.params)
            curve = pruning.pruning_curves(result.cfg, pruning.run_hparams(grid, s), one,
                                           pruning.pruning_order(iprs[s], "low_first"), counts)
            pruned = pruning.max_prunable(curve["val_acc"], counts, threshold)
            for k, v in (("width", width), ("seed", s), ("final_val_acc", float(result.curves["val_acc"][s, -1])),
                         ("max_pruned", pruned), ("neurons_needed", width - pruned)):
                rows[k].append(v)
    table = {k: np.asarray(v) for k, v in rows.items()}
    run_dir.write_csv(os.path.join(out, "prune_width.csv"), table)
    summary = {}
    for width in widths:
        sel = table["width"] == width
        need = table["neurons_needed"][sel]
        summary[str(width)] = {"neurons_needed_mean": float(need.mean()),
                               "neurons_needed_sem": float(need.std() / np.sqrt(len(need))),
                               "fraction_prunable_mean": float(np.mean(table["max_pruned"][sel] / width)),
                               "generalized_runs": int(np.sum(table["final_val_acc"][sel] >= threshold))}
    run_dir.write_numbers(out, "prune_width.json", summary)
    run_dir.save_plot(os.path.join(out, "prune_width.png"), plot_prune_width, widths, summary,
                      f"{base_cfg.op} p={base_cfg.p}, frac={hparams['frac']:g}, xi={hparams['xi']:g}, "
                      f"wd={hparams['wd']:g}, {seeds} seeds")
    return summary


def main(argv):
    del argv  # cli.parse_flags_or_exit already refused positional arguments
    try:
        cfg = cli.static_config()
        validate_static(cfg)
        values = cli.parse_values("widths", FLAGS.widths)
        check_value("widths", FLAGS.widths, np.all((values >= 1) & (values == np.round(values))),
                    "positive integers")
        widths = [int(w) for w in values]
        check_value("seeds", FLAGS.seeds, FLAGS.seeds >= 1, "a positive integer")
        check_value("pruning_points", FLAGS.pruning_points, FLAGS.pruning_points >= 2, "an integer >= 2")
        check_value("threshold", FLAGS.threshold, 0 <= FLAGS.threshold <= 1, "an accuracy in [0, 1]")
        run_dir.check_writable_dir(FLAGS.out, "--out")
        hparams = cli.base_hparams()
        grid = make_grid(hparams, seeds=FLAGS.seeds)  # validates every hyperparameter (one-line errors)
        widest = dataclasses.replace(cfg, width=max(widths))
        validate_static(widest)
        dataset = operation_dataset(cfg.op, cfg.p)
        check_grid_fits(grid, dataset)
        check_run_memory(widest, grid, dataset, FLAGS.memory_budget_gb)  # the widest run, before any is trained
        checkpoint = cli.checkpoint_options(cfg)
    except ConfigError as err:
        cli.exit_on_config_error(err)
    try:
        summary = prune_width_experiment(cfg, hparams, widths, FLAGS.seeds, FLAGS.threshold, FLAGS.pruning_points,
                                         FLAGS.out, FLAGS.progress, checkpoint, cli.flags_text(), FLAGS.overwrite)
    except ConfigError as err:
        cli.exit_on_config_error(err)
    print(json.dumps(summary))


if __name__ == "__main__":
    # Figure 32's hyperparameters (App. Q) as defaults; flags on the command line still win.
    for name, value in (("lr", 0.005), ("wd", 1.0), ("xi", 0.35), ("frac", 0.5), ("pruning_points", 101)):
        FLAGS.set_default(name, value)
    cli.run_script(main)
