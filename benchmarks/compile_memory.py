"""Compile seconds of a sweep and compiled memory per run, against the linear prediction.

    nice -n 10 python benchmarks/compile_memory.py                 # R = 1 16 64, all configs

For each config and batch size R: seconds to compile everything a sweep compiles
(vmapped init, evaluate and one chunk of eval_every steps, from a cold cache), and
XLA's memory analysis of the chunk (arguments + temporaries + non-aliased outputs)
next to R x the memory of one run, which is how --memory_budget_gb sizes batches
(grokjax.train.devices). Writes benchmarks/results/compile_memory.{md,csv}.
"""
from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jax  # noqa: E402
from absl import app, flags  # noqa: E402

from common import CONFIGS, grid_of, load_average, write_table  # noqa: E402
from grokjax.data.datasets import operation_dataset  # noqa: E402
from grokjax.train import devices  # noqa: E402
from grokjax.train.sweep import BatchTrainer, features_for, run_fns_for  # noqa: E402

flags.DEFINE_list("configs", list(CONFIGS), f"benchmark configs: {', '.join(CONFIGS)}")
flags.DEFINE_list("runs", ["1", "16", "64"], "batch sizes R")
flags.DEFINE_string("out", "compile_memory", "table name under benchmarks/results/")
FLAGS = flags.FLAGS


def measure(name: str, n_runs: int, per_run: int | None) -> dict:
    jax.clear_caches()
    cfg = CONFIGS[name]
    grid = grid_of(n_runs)
    cfg = features_for(cfg, grid)
    trainer = BatchTrainer(cfg, run_fns_for(cfg, grid, operation_dataset(cfg.op, cfg.p)))
    hp = trainer.place(grid)
    start, cpu = time.perf_counter(), time.process_time()
    state = jax.eval_shape(trainer.init, hp)
    trainer.init.lower(hp).compile()
    trainer.evaluate.lower(state, hp).compile()
    chunk = trainer.chunk(cfg.eval_every).lower(state, hp).compile()
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    used = devices.compiled_bytes(chunk)
    per_run = per_run or used
    return {"config": name, "R": n_runs, "sweep compile s": seconds, "compile CPU s": cpu, "MiB": used / 2 ** 20,
            "MiB/run": used / n_runs / 2 ** 20, "predicted MiB (R x one run)": n_runs * per_run / 2 ** 20,
            "measured / predicted": used / (n_runs * per_run)}


def main(argv):
    del argv
    before = load_average()
    rows = []
    for name in FLAGS.configs:
        per_run = None
        for r in map(int, FLAGS.runs):
            rows.append(measure(name, r, per_run))
            per_run = per_run or int(rows[-1]["MiB"] * 2 ** 20)
            print(rows[-1], flush=True)
    write_table(FLAGS.out, "sweep compile time (cold) and compiled memory per run", rows, list(rows[0]),
                f"{before} / {load_average()}")


if __name__ == "__main__":
    app.run(main)
