"""End to end: one run_sweep call of R runs vs separate run_sweep calls of one run each.

    nice -n 10 python benchmarks/sweep_vs_calls.py --config=small_mlp --runs=64 --separate=8 --steps=500
    nice -n 10 python benchmarks/sweep_vs_calls.py --full_table --out=sweep_vs_calls_full_table  # before

What a user sees: every public grokking codebase trains one configuration per call
(or process), paying tracing, compilation and per-step dispatch each time. This
times `run_sweep` on R runs in one call (one compile), and `--separate` of the same
runs each in its own `run_sweep` call (in-process, so the jit cache of identical
programs is NOT reused across calls: each call builds its functions, as a fresh
script would), and reports runs/s of both and their ratio. Writes
benchmarks/results/sweep_vs_calls.{md,csv}.
"""
from __future__ import annotations

import dataclasses
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jax  # noqa: E402
from absl import app, flags  # noqa: E402

from common import CONFIGS, grid_of, load_average, write_table  # noqa: E402
from grokjax.train import run  # noqa: E402
from grokjax.train.sweep import run_sweep  # noqa: E402

flags.DEFINE_string("config", "small_mlp", f"one of: {', '.join(CONFIGS)}")
flags.DEFINE_integer("runs", 64, "runs in the one-call sweep")
flags.DEFINE_integer("separate", 8, "how many of them to time as separate calls (runs/s extrapolates)")
flags.DEFINE_integer("steps", 500, "steps per run")
flags.DEFINE_integer("eval_every", 100, "steps between evaluations")
flags.DEFINE_float("max_frac", 0.5, "the runs' training fractions go from this down to 0.3")
flags.DEFINE_bool("full_table", False, "full batch: every step on the whole table with a mask (the engine "
                  "before steps were restricted to the training rows), for before/after numbers")
flags.DEFINE_integer("group_size", -1, "the one call trains vmapped groups of this many runs one after "
                     "another (run_sweep(group_size=...)); 0 = one vmap over all runs, -1 = the engine's default")
flags.DEFINE_string("out", "sweep_vs_calls", "table name under benchmarks/results/")
FLAGS = flags.FLAGS


def timed(fn) -> tuple[float, float]:
    start, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - start, time.process_time() - cpu


def main(argv):
    del argv
    before = load_average()
    cfg = dataclasses.replace(CONFIGS[FLAGS.config], steps=FLAGS.steps, eval_every=FLAGS.eval_every)
    grid = grid_of(FLAGS.runs, FLAGS.max_frac)
    if FLAGS.full_table:
        run.MAX_ROWS_SHARE = 0.0
    jax.clear_caches()
    group_size = None if FLAGS.group_size < 0 else FLAGS.group_size
    wall_one, cpu_one = timed(lambda: run_sweep(cfg, grid, max_runs_per_batch=FLAGS.runs, progress=False,
                                                keep_params=False, group_size=group_size))
    wall_sep, cpu_sep = 0.0, 0.0
    for i in range(FLAGS.separate):
        jax.clear_caches()
        w, c = timed(lambda: run_sweep(cfg, {k: v[i:i + 1] for k, v in grid.items()}, progress=False,
                                       keep_params=False))
        wall_sep, cpu_sep = wall_sep + w, cpu_sep + c
    common = {"config": FLAGS.config, "full-batch step": "whole table" if FLAGS.full_table else "training rows",
              "fracs": f"{FLAGS.max_frac:g}..0.3", "steps": FLAGS.steps,
              "group size": "default" if group_size is None else group_size}
    rows = [{**common, "mode": f"one call, {FLAGS.runs} runs", "wall s": wall_one, "CPU s": cpu_one,
             "runs/s (wall)": FLAGS.runs / wall_one, "runs/s (CPU)": FLAGS.runs / cpu_one},
            {**common, "mode": f"separate calls ({FLAGS.separate} timed)", "wall s": wall_sep, "CPU s": cpu_sep,
             "runs/s (wall)": FLAGS.separate / wall_sep, "runs/s (CPU)": FLAGS.separate / cpu_sep}]
    rows.append({**common, "mode": "ratio (one call / separate)",
                 "runs/s (wall)": rows[0]["runs/s (wall)"] / rows[1]["runs/s (wall)"],
                 "runs/s (CPU)": rows[0]["runs/s (CPU)"] / rows[1]["runs/s (CPU)"]})
    write_table(FLAGS.out, "one sweep call vs separate single-run calls (compile included)", rows,
                list(rows[0]), f"{before} / {load_average()}")


if __name__ == "__main__":
    app.run(main)
