"""Per-step cost of --matmul_dtype=bfloat16 against float32, same runs, timed interleaved.

    nice -n 10 python benchmarks/mixed_precision.py                     # doshi_mlp, small_transformer; R = 1, 4
    nice -n 10 python benchmarks/mixed_precision.py --configs=power_transformer --runs=1

On this CPU the bf16 operands are rounded and multiplied in float32 (XLA:CPU has no
bf16 x bf16 -> f32 dot inside loops; grokjax.models.base.make_einsum), so this measures
the price of the rounding, not a speed-up; on a GPU the same flag runs bf16 tensor-core
matmuls. Writes benchmarks/results/mixed_precision.{md,csv}.
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jax  # noqa: E402
from absl import app, flags  # noqa: E402

from common import CHUNK_STEPS, CONFIGS, best_times, compiled_chunk, grid_of, load_average, with_overrides, write_table  # noqa: E402,E501

flags.DEFINE_list("configs", ["doshi_mlp", "small_transformer"], f"benchmark configs: {', '.join(CONFIGS)}")
flags.DEFINE_list("runs", ["1", "4"], "numbers of vmapped runs R")
flags.DEFINE_float("min_seconds", 1.0, "time each variant for at least this long (best call counts)")
flags.DEFINE_string("out", "mixed_precision", "table name under benchmarks/results/")
FLAGS = flags.FLAGS
DTYPES = ("float32", "bfloat16")


def main(argv):
    del argv
    load_before = load_average()
    rows = []
    for name in FLAGS.configs:
        n_steps = CHUNK_STEPS[name]
        for n_runs in map(int, FLAGS.runs):
            calls = [compiled_chunk(with_overrides(CONFIGS[name], matmul_dtype=d), grid_of(n_runs), n_steps)
                     for d in DTYPES]
            for call in calls:
                call()  # warm-up
            times = best_times(calls, FLAGS.min_seconds)
            (wall32, cpu32) = times[0]
            for dtype, (wall, cpu) in zip(DTYPES, times):
                rows.append({"config": name, "matmul_dtype": dtype, "R": n_runs,
                             "ms/run-step": 1e3 * wall / n_steps / n_runs,
                             "CPU ms/run-step": 1e3 * cpu / n_steps / n_runs,
                             "cost vs float32": wall / wall32, "CPU cost vs float32": cpu / cpu32})
            print(rows[-1], flush=True)
    write_table(FLAGS.out, f"bfloat16 vs float32 matmul operands on {jax.devices()[0].platform} "
                "(interleaved call by call)", rows, list(rows[0]), f"{load_before} / {load_average()}")


if __name__ == "__main__":
    app.run(main)
