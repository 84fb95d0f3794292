"""Shared helpers of the benchmark scripts: configs, timing, machine load, tables."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import time
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from grokjax.config import StaticConfig

# The benchmark configurations (issue 4): (a) Doshi et al. MLP, (b) Power et al.
# transformer, (c) small tables where per-step overhead dominates.
CONFIGS: dict[str, StaticConfig] = {
    "doshi_mlp": StaticConfig(op="add", p=97, model="mlp", width=500, activation="quadratic", loss="mse",
                              optimizer="adamw", batch_size=0),
    "power_transformer": StaticConfig(op="add", p=97, model="transformer", width=128, depth=2, heads=4,
                                      activation="relu", norm="layernorm", loss="ce", optimizer="adamw",
                                      warmup_steps=10, batch_size=512, batch_rule="power"),
    "small_mlp": StaticConfig(op="add", p=23, model="mlp", width=128, loss="mse", batch_size=0),
    "small_transformer": StaticConfig(op="add", p=31, model="transformer", width=32, depth=2, heads=4,
                                      activation="relu", norm="layernorm", loss="ce", batch_size=128,
                                      batch_rule="power"),
}
# Steps per timed call: enough that dispatch is amortized, few enough to stay CPU-cheap.
CHUNK_STEPS = {"doshi_mlp": 10, "power_transformer": 4, "small_mlp": 100, "small_transformer": 50}


def load_average() -> str:
    """`uptime`'s load averages: the CPU is shared, so every table records it."""
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.split("load average:")[1].strip()
    except (OSError, IndexError):
        return "n/a"


def best_time(fn: Callable[[], object], min_seconds: float = 1.0, min_calls: int = 2, max_calls: int = 20) -> float:
    """Fastest of repeated calls (seconds): the least disturbed by other processes."""
    times, total = [], 0.0
    while len(times) < max_calls and (len(times) < min_calls or total < min_seconds):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
        total += times[-1]
    return min(times)


def best_times(fns: list[Callable[[], object]], min_seconds: float = 1.0, min_rounds: int = 2,
               max_rounds: int = 20) -> list[tuple[float, float]]:
    """(fastest wall seconds, fewest CPU seconds) of a call of each function, calls
    interleaved round by round so ratios stay meaningful when other processes share
    the CPU. CPU seconds (all threads of this process) measure the work done and are
    the robust number on a loaded machine; wall seconds are what a user waits."""
    walls, cpus = [[] for _ in fns], [[] for _ in fns]
    while len(walls[0]) < max_rounds and (len(walls[0]) < min_rounds or sum(map(sum, walls)) < min_seconds):
        for fn, w, c in zip(fns, walls, cpus):
            start, cpu = time.perf_counter(), time.process_time()
            jax.block_until_ready(fn())
            w.append(time.perf_counter() - start)
            c.append(time.process_time() - cpu)
    return [(min(w), min(c)) for w, c in zip(walls, cpus)]


def matmul_peak(n: int = 2048, dtype=jnp.float32) -> float:
    """Measured FLOP/s of one large square matmul: the machine's practical peak."""
    a = jnp.ones((n, n), dtype)
    f = jax.jit(lambda x, y: x @ y)
    jax.block_until_ready(f(a, a))
    return 2 * n ** 3 / best_time(lambda: f(a, a), min_seconds=2.0, min_calls=3)


def matmul_fn(n: int = 2048, dtype=jnp.float32) -> tuple[Callable[[], object], float]:
    """A compiled large matmul and its FLOPs, to time next to the benchmark (peak)."""
    a = jnp.ones((n, n), dtype)
    f = jax.jit(lambda x, y: x @ y)
    jax.block_until_ready(f(a, a))
    return (lambda: f(a, a)), 2.0 * n ** 3


def flops_of(compiled) -> float:
    """XLA's FLOP count of a compiled function (0 if unavailable)."""
    cost = compiled.cost_analysis()
    if isinstance(cost, list):
        cost = cost[0] if cost else {}
    return float((cost or {}).get("flops", 0.0))


def step_flops(fns, state, hp) -> float:
    """XLA's FLOPs of one optimization step of one run (state, hp: one run's, arrays or shapes):
    a 1-step chunk minus its evaluation."""
    import functools

    one = jax.jit(functools.partial(fns.train_chunk, n_steps=1)).lower(state, hp).compile()
    ev = jax.jit(fns.evaluate).lower(state, hp).compile()
    return flops_of(one) - flops_of(ev)


def memory_of(compiled) -> dict[str, int]:
    m = compiled.memory_analysis()
    if m is None:
        return {}
    return {"argument": m.argument_size_in_bytes, "output": m.output_size_in_bytes,
            "temp": m.temp_size_in_bytes, "alias": m.alias_size_in_bytes}


def markdown_table(rows: list[dict], columns: list[str]) -> str:
    def cell(v):
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def write_table(name: str, title: str, rows: list[dict], columns: list[str], notes: str = "") -> str:
    """Prints the table and writes it (markdown + csv) to benchmarks/results/."""
    out_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
    os.makedirs(out_dir, exist_ok=True)
    text = (f"### {title}\n\n{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
            f"jax {jax.__version__} on {jax.devices()[0].platform} x{jax.device_count()} "
            f"({os.cpu_count()} cores); load average before/after: {notes}\n\n"
            + markdown_table(rows, columns) + "\n")
    print(text)
    with open(os.path.join(out_dir, f"{name}.md"), "w") as f:
        f.write(text)
    import csv
    with open(os.path.join(out_dir, f"{name}.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return text


def with_overrides(cfg: StaticConfig, **kw) -> StaticConfig:
    return dataclasses.replace(cfg, **kw)


def tree_take(tree, i: int):
    return jax.tree.map(lambda a: a[i], tree)


def compiled_chunk(cfg: StaticConfig, grid: dict, n_steps: int, alone: bool = False, with_compiled: bool = False):
    """The engine's compiled chunk of `n_steps` for `grid` (jit(vmap(train_chunk)), as run_sweep),
    or with `alone` for run 0 jitted without vmap; each call advances the runs and returns metrics.
    Returns the call, or with `with_compiled` (call, compiled program)."""
    import functools

    from grokjax.data.datasets import operation_dataset
    from grokjax.train.sweep import BatchTrainer, features_for, run_fns_for

    run_cfg = features_for(cfg, grid)
    fns = run_fns_for(run_cfg, grid, operation_dataset(cfg.op, cfg.p))
    trainer = BatchTrainer(run_cfg, fns)
    hp = trainer.place(grid)
    state = trainer.init(hp)
    if alone:
        state, hp = tree_take(state, 0), tree_take(hp, 0)
        compiled = jax.jit(functools.partial(fns.train_chunk, n_steps=n_steps)).lower(state, hp).compile()
    else:
        compiled = trainer.chunk(n_steps).lower(state, hp).compile()
    holder = [state]

    def call():
        holder[0], metrics = compiled(holder[0], hp)
        return metrics
    return (call, compiled) if with_compiled else call


def grid_of(n_runs: int, max_frac: float = 0.5) -> dict:
    """R runs that differ in their traced values (fractions from max_frac down to 0.3, seeds),
    as a real sweep. Full-batch steps hold the training rows of the largest frac; 0.5 is the
    issue's reference step (Doshi MLP, frac 0.5)."""
    from grokjax.train.sweep import make_grid
    fracs = np.linspace(max_frac, 0.3, max(1, min(n_runs, 8)))
    grid = make_grid({"lr": 0.01, "wd": 1.0}, [("frac", fracs)], seeds=-(-n_runs // len(fracs)))
    return {k: v[:n_runs] for k, v in grid.items()}
