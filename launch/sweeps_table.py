"""Best validation accuracy per sweep and training fraction of a figure's workdir, finished or not.

    python launch/sweeps_table.py runs/gpu_check_runs/fig2_right --out=fig2_right.csv

A figure of experiments/power2022_figures.py keeps one run directory per sweep in
WORKDIR/sweeps/<label>/ (an operation, a variant). This reads every one through the run-directory
reader, including the batches still in their checkpoints (so a sweep stopped at a time budget
counts up to where it got), and writes one row per (sweep, frac): the mean and range over seeds of
the best validation accuracy, the seeds, and the last step every seed reached.
"""
from __future__ import annotations

import os
import sys

import numpy as np
import pandas as pd
from absl import app, flags

from grokjax.checkpoint.reader import load_sweep
from grokjax.config import ConfigError

flags.DEFINE_string("out", "", "CSV to write (default: print only)")
FLAGS = flags.FLAGS


def sweep_rows(label: str, path: str) -> list[dict]:
    data = load_sweep(path, params=False)
    val = data.curves["val_acc"]  # (G, T), NaN where not evaluated yet
    evaluated = ~np.isnan(val)
    started = evaluated.any(axis=1)
    best = np.where(started, np.nanmax(np.where(evaluated, val, -np.inf), axis=1), np.nan)
    last_step = np.where(started, data.steps[np.where(evaluated, np.arange(val.shape[1]), 0).max(axis=1)], 0)
    rows = []
    for frac in np.unique(data.grid["frac"]):
        runs = (data.grid["frac"] == frac) & started
        if not runs.any():
            continue
        rows.append({"sweep": label, "frac": round(float(frac), 6),  # fracs are stored as float32
                     "best_val_acc_mean": float(np.mean(best[runs])),
                     "best_val_acc_min": float(np.min(best[runs])), "best_val_acc_max": float(np.max(best[runs])),
                     "seeds": int(runs.sum()), "steps_reached": int(np.min(last_step[runs])),
                     "budget": int(data.static.steps)})
    return rows


def main(argv):
    if len(argv) != 2:
        sys.exit("usage: python launch/sweeps_table.py WORKDIR [--out=FILE.csv]")
    sweeps = os.path.join(argv[1], "sweeps")
    if not os.path.isdir(sweeps):
        sys.exit(f"error: {argv[1]} has no sweeps/ directory (a workdir of experiments/power2022_figures.py)")
    rows = []
    for label in sorted(os.listdir(sweeps)):
        try:
            rows += sweep_rows(label, os.path.join(sweeps, label))
        except ConfigError as err:  # a sweep that had not written its configuration yet
            print(f"{label}: skipped ({err})", file=sys.stderr)
    table = pd.DataFrame(rows)
    print(table.to_string(index=False) if rows else "no sweep has started")
    if FLAGS.out:
        table.to_csv(FLAGS.out, index=False)


if __name__ == "__main__":
    app.run(main)
