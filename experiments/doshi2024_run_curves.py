"""Doshi et al. (2024) Figures 19-22: per-run training curves of a sweep, clean and corrupted apart.

Needs no parameter snapshots: every sweep records accuracy and loss on the clean and the corrupted
training examples and on the test set at each evaluation (metrics.npz; checkpoints for a sweep
still running). One column per chosen run: accuracies above, losses below.

    python experiments/phase_diagram.py --flagfile=experiments/flags/doshi2024_fig9_batchnorm.flags \\
        --x_values=0.4,0.5,0.8 --y_values=0.3 --eval_every=100 --workdir=runs/doshi2024_fig20_batchnorm_curves
    python experiments/doshi2024_run_curves.py --workdir=runs/doshi2024_fig20_batchnorm_curves \\
        --out=docs/figures/doshi2024 --prefix=fig20_batchnorm

--where=frac=0.5,xi=0.3 (repeatable) picks the runs; without it every run is drawn (at most
MAX_PANELS). Writes <prefix>_run_curves.png and <prefix>_run_curves_numbers.json to --out.
"""
from __future__ import annotations

import os

import numpy as np
from absl import flags

from grokjax import cli
from grokjax.checkpoint.reader import SweepDir
from grokjax.config import HPARAMS, SEED_KEYS, ConfigError
from grokjax.inspect import select_run
from grokjax.plotting import doshi as plots
from grokjax.train.run_dir import write_numbers
from grokjax.train.summary import first_step_reaching, last_finite

MAX_PANELS = 12  # columns of one figure that stay readable

cli.define_flags()  # --workdir (a sweep directory, finished or running)
FLAGS = flags.FLAGS
# Each flag only if missing: the scripts are importable together (tests).
for _define, _name, _default, _help in (
        (flags.DEFINE_string, "out", "docs/figures/doshi2024", "directory for the PNG and the numbers JSON"),
        (flags.DEFINE_string, "prefix", "doshi", "file name prefix"),
        (flags.DEFINE_multi_string, "where", [], "a run to draw, as name=value,... matching exactly one run "
                                                 "(repeat for more; default: every run)"),
):
    if _name not in FLAGS:
        _define(_name, _default, _help)


def run_curves(workdir: str, where: list[str], out: str, prefix: str) -> dict:
    sweep = SweepDir(workdir)
    curves = sweep.curves()
    if not curves:
        raise ConfigError(f"{workdir} has no evaluations yet (no metrics.npz and no checkpoints)")
    runs = [select_run(sweep, None, w, run_flag=False) for w in where] if where else list(range(sweep.n_runs))
    if len(runs) > MAX_PANELS:
        raise ConfigError(f"{workdir} has {len(runs)} runs; pick at most {MAX_PANELS} with --where=name=value,...")
    phases = _phases(sweep)
    varying = [k for k in (*HPARAMS, *SEED_KEYS) if len(np.unique(sweep.grid[k])) > 1] or ["wd"]
    chosen = {k: v[runs] for k, v in curves.items()}
    titles = [" ".join(f"{k}={sweep.grid[k][r]:g}" for k in varying) + (f": {phases[r]}" if r in phases else "")
              for r in runs]
    xis = [float(sweep.grid["xi"][r]) for r in runs]
    os.makedirs(out, exist_ok=True)
    plots.plot_run_curves(os.path.join(out, f"{prefix}_run_curves.png"), sweep.steps, chosen, titles, xis)
    return write_numbers(out, f"{prefix}_run_curves_numbers.json", {
        "workdir": workdir, "runs": [_run_numbers(sweep, chosen, i, r, phases.get(r)) for i, r in enumerate(runs)]})


def _phases(sweep: SweepDir) -> dict[int, str]:
    """run -> phase, for the runs summary.csv has (finished batches)."""
    summary = sweep.summary()
    return dict(zip(summary["run"], summary["phase"])) if summary is not None and "phase" in summary else {}


def _run_numbers(sweep: SweepDir, curves: dict, i: int, run: int, phase: str | None) -> dict:
    """Final values, when test accuracy first reached 0.9, and how far the corrupted labels were learned."""
    steps = np.asarray(sweep.steps)
    row = {k: curves[k][i:i + 1] for k in curves}
    numbers = {"run": run, "phase": phase, **{k: float(sweep.grid[k][run]) for k in HPARAMS},
               "step_test_0.9": float(first_step_reaching(row["val_acc"], steps, 0.9)[0])}
    for name in ("train_acc", "val_acc", "train_clean_acc", "train_corrupt_acc", "train_corrupt_true_acc"):
        if name in row:
            numbers[f"final_{name}"] = float(last_finite(row[name])[0])
    if "train_corrupt_acc" in row and not np.isnan(row["train_corrupt_acc"]).all():
        peak = int(np.nanargmax(row["train_corrupt_acc"][0]))  # memorized most, before any unlearning
        numbers.update(peak_train_corrupt_acc=float(row["train_corrupt_acc"][0, peak]),
                       step_peak_train_corrupt_acc=int(steps[peak]))
    return numbers


def main(argv):
    del argv  # cli.parse_flags_or_exit already refused positional arguments
    try:
        cli.require_workdir(FLAGS.workdir, "a sweep directory (finished or running)")
        numbers = run_curves(FLAGS.workdir, FLAGS.where, FLAGS.out, FLAGS.prefix)
    except ConfigError as err:
        cli.exit_on_config_error(err)
    for r in numbers["runs"]:
        print(f"run {r['run']}: {r['phase']}, final train {r.get('final_train_acc', float('nan')):.3f} "
              f"test {r.get('final_val_acc', float('nan')):.3f}, corrupted labels memorized "
              f"{r.get('final_train_corrupt_acc', float('nan')):.3f} (peak "
              f"{r.get('peak_train_corrupt_acc', float('nan')):.3f} at step {r.get('step_peak_train_corrupt_acc')})")


if __name__ == "__main__":
    cli.run_script(main)
