"""Per-run cost of vmapped training: one jitted run alone vs R runs in one call.

    nice -n 10 python benchmarks/vmap_cost.py                      # all configs, R = 1 4 16 64
    nice -n 10 python benchmarks/vmap_cost.py --configs=doshi_mlp --runs=1,4
    nice -n 10 python benchmarks/vmap_cost.py --configs=doshi_mlp --full_table --out=doshi_full_table  # before

For each config and R it compiles the engine's own chunk function (the one run_sweep
uses: jit(vmap(train_chunk))) for n and 3n steps (n = common.CHUNK_STEPS) and times the
steps alone: every chunk ends with one evaluation on the whole table, so a step costs
(t(3n) - t(n)) / 2n, free of the evaluation and of the call's dispatch. It reports
per-run-step time, the ratio to one run jitted alone (no vmap), runs/s for a
2000-step run, FLOP/s as a fraction of the measured matmul peak, compile seconds and
compiled memory per run. FLOP/s counts useful FLOPs: XLA's count of one step of one run
on its training rows at the grid's largest frac (--max_frac, 0.5), whatever the variant computes.
Writes benchmarks/results/vmap_cost.{md,csv}.
"""
from __future__ import annotations

import functools
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from absl import app, flags  # noqa: E402

from common import (CHUNK_STEPS, CONFIGS, best_times, grid_of, load_average, matmul_fn, memory_of,  # noqa: E402
                    step_flops, tree_take, write_table)
from grokjax.data.datasets import operation_dataset  # noqa: E402
from grokjax.train.run import make_run_fns  # noqa: E402
from grokjax.train.sweep import BatchTrainer, features_for, run_fns_for  # noqa: E402

flags.DEFINE_list("configs", list(CONFIGS), f"benchmark configs: {', '.join(CONFIGS)}")
flags.DEFINE_list("runs", ["1", "4", "16", "64"], "numbers of vmapped runs R")
flags.DEFINE_float("min_seconds", 1.0, "time each variant for at least this long (best call counts)")
flags.DEFINE_bool("generic_mlp", False, "MLP: the generic (row-gather) first layer on full tables too, "
                  "instead of the A[x] + B[y] table path")
flags.DEFINE_bool("full_table", False, "full batch: compute every step on the whole table with a mask "
                  "(the engine before steps were restricted to the training rows), for before/after numbers")
flags.DEFINE_integer("group_size", -1, "train vmapped groups of this many runs one after another "
                     "(BatchTrainer(group_size=...)); 0 = one vmap over all R, -1 = the engine's default")
flags.DEFINE_float("max_frac", 0.5, "the runs' training fractions go from this down to 0.3 (full-batch "
                   "steps hold the training rows of the largest)")
flags.DEFINE_string("out", "vmap_cost", "table name under benchmarks/results/")
FLAGS = flags.FLAGS
RUN_STEPS = 2000  # runs/s is quoted for runs of this many steps
STEP_FACTOR = 3  # chunks of n and STEP_FACTOR * n steps: their difference is the steps alone


def compiled_pair(fns, trainer, state, hp, n_steps):
    """(one run jitted alone, R vmapped runs) chunks of n_steps and of 3 n_steps: each a pair of
    timed calls (n, 3n) with the compiled n-step program and its compile seconds."""
    s0, h0 = tree_take(state, 0), tree_take(hp, 0)  # baseline: run 0 jitted alone, no vmap
    out = []
    for make, start_state, hparams in ((lambda n: jax.jit(functools.partial(fns.train_chunk, n_steps=n)), s0, h0),
                                       (trainer.chunk, state, hp)):
        calls, compiled, compile_s = [], None, 0.0
        for n in (n_steps, STEP_FACTOR * n_steps):
            start = time.perf_counter()
            program = make(n).lower(start_state, hparams).compile()
            compiled, compile_s = (program, time.perf_counter() - start) if compiled is None else (compiled, compile_s)
            holder = [jax.tree.map(jnp.copy, start_state)]  # a chunk donates its state: one copy each

            def call(program=program, holder=holder, hparams=hparams):
                holder[0], m = program(holder[0], hparams)
                return m
            calls.append(call)
        out.append((calls, compiled, compile_s))
    return out[0], out[1]


def measure(name: str, n_runs_list: list[int]) -> list[dict]:
    """Times one run alone, R vmapped runs and a large matmul, interleaved call by call
    (with --full_table, the masked whole-table step too, in the same rounds)."""
    cfg = CONFIGS[name]
    n_steps = CHUNK_STEPS[name]
    dataset = operation_dataset(cfg.op, cfg.p)
    matmul, matmul_flops = matmul_fn()
    rows, seen_alone = [], set()
    for n_runs in n_runs_list:
        grid = grid_of(n_runs, FLAGS.max_frac)
        run_cfg = features_for(cfg, grid)
        variants = {"": run_fns_for(run_cfg, grid, dataset)}
        if FLAGS.full_table:
            variants[" (full table)"] = make_run_fns(run_cfg, dataset)
        calls, info = [matmul], []
        for suffix, fns in variants.items():
            trainer = BatchTrainer(run_cfg, fns, group_size=None if FLAGS.group_size < 0 else FLAGS.group_size)
            hp = trainer.place(grid)
            state = trainer.init(hp)
            group = trainer.groups_of(state)
            useful = step_flops(variants[""], tree_take(state, 0), tree_take(hp, 0))
            xla = step_flops(fns, tree_take(state, 0), tree_take(hp, 0))
            alone, batch = compiled_pair(fns, trainer, state, hp, n_steps)
            calls += [*alone[0], *batch[0]]
            info.append((suffix, useful, xla, alone, batch, group))
        times = best_times(calls, FLAGS.min_seconds)
        (t_peak, c_peak), times = times[0], times[1:]
        peak, cpu_peak = matmul_flops / t_peak, matmul_flops / c_peak
        for i, (suffix, flops, xla_flops, alone, batch, group) in enumerate(info):
            (t_alone, c_alone), (t_batch, c_batch) = (
                [(b[0] - a[0]) / (STEP_FACTOR - 1), (b[1] - a[1]) / (STEP_FACTOR - 1)]
                for a, b in (times[4 * i:4 * i + 2], times[4 * i + 2:4 * i + 4]))
            alone_step, t_step = t_alone / n_steps, t_batch / n_steps
            cpu = (c_alone / n_steps, c_batch / n_steps, cpu_peak)
            if suffix not in seen_alone:
                seen_alone.add(suffix)
                rows.append(_row(name, "alone" + suffix, 1, alone_step, alone_step, flops, peak, alone[2],
                                 memory_of(alone[1]), 1, (cpu[0], cpu[0], cpu_peak), xla_flops))
            variant = (f"vmap in groups of {group}" if group else "vmap") + suffix
            rows.append(_row(name, variant, n_runs, t_step, alone_step, flops, peak, batch[2], memory_of(batch[1]),
                             n_runs, cpu, xla_flops))
            print(f"{name}{suffix} R={n_runs}: {1e3 * t_step / n_runs:.3f} ms per run-step, {1e3 * alone_step:.3f} "
                  f"alone ({t_step / n_runs / alone_step:.2f}x wall, {cpu[1] / n_runs / cpu[0]:.2f}x CPU time); "
                  f"peak {peak / 1e9:.0f} GFLOP/s", flush=True)
    return rows


def _row(name, variant, n_runs, t_step, alone_step, flops, peak, compile_s, mem, per, cpu, xla_flops) -> dict:
    per_run_step = t_step / n_runs
    cpu_alone, cpu_step, cpu_peak = cpu
    mem_run = (mem.get("argument", 0) + mem.get("temp", 0)) / per / 2 ** 20 if mem else float("nan")
    return {"config": name, "variant": variant, "R": n_runs, "ms/step": 1e3 * t_step,
            "ms/run-step": 1e3 * per_run_step, "CPU ms/run-step": 1e3 * cpu_step / n_runs,
            "cost/run vs alone": per_run_step / alone_step, "CPU cost/run vs alone": cpu_step / n_runs / cpu_alone,
            "speedup vs R calls": alone_step / per_run_step,
            "run-steps/s": 1 / per_run_step, "runs/s (2000 steps)": 1 / (per_run_step * RUN_STEPS),
            "GFLOP/run-step": flops / 1e9, "XLA GFLOP/run-step": xla_flops / 1e9, "peak GFLOP/s": peak / 1e9,
            "frac of peak": flops / per_run_step / peak, "CPU frac of peak": flops / (cpu_step / n_runs) / cpu_peak,
            "compile s": compile_s, "MiB/run": mem_run}


COLUMNS = ["config", "variant", "R", "ms/step", "ms/run-step", "CPU ms/run-step", "cost/run vs alone",
           "CPU cost/run vs alone", "speedup vs R calls", "run-steps/s", "runs/s (2000 steps)", "GFLOP/run-step",
           "XLA GFLOP/run-step", "peak GFLOP/s", "frac of peak", "CPU frac of peak", "compile s", "MiB/run"]


def main(argv):
    del argv
    if FLAGS.generic_mlp:
        from grokjax.models import mlp
        mlp.USE_TABLE_STRUCTURE = False
    load_before = load_average()
    rows = []
    for name in FLAGS.configs:
        rows += measure(name, [int(r) for r in FLAGS.runs])
    write_table(FLAGS.out, "vmap cost per run (each R timed interleaved with one run alone and a "
                "2048^3 matmul; 'alone' = jit without vmap)", rows, COLUMNS,
                f"{load_before} / {load_average()}")


if __name__ == "__main__":
    app.run(main)
