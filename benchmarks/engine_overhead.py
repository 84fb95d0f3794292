"""What the engine adds to one Doshi MLP step: the engine's compiled chunk against a bare step.

    python benchmarks/engine_overhead.py --out=engine_overhead

The bare step is the same model and optimizer written directly in JAX (eq. 1 MLP with the
quadratic activation, MSE on the training rows, AdamW with betas (0.9, 0.98)), with none of the
engine's work: no per-run hyperparameters, corruption masks, finite check or metrics. Both run one
run alone, --steps steps per call (the engine's call ends with one evaluation on the whole table,
as every --eval_every steps of a sweep), interleaved with a large matmul (the machine's peak), so
the table says how far the step is from the peak because of XLA:CPU and how far because of the engine.
Prints and writes benchmarks/results/<out>.{md,csv}.
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from absl import app, flags  # noqa: E402

from common import CONFIGS, best_times, compiled_chunk, grid_of, load_average, matmul_fn, write_table  # noqa: E402,E501

flags.DEFINE_integer("steps", 100, "steps per timed call; the engine evaluates once per call, as a sweep "
                     "with --eval_every=steps does (the Doshi flagfiles: 100)")
flags.DEFINE_float("min_seconds", 3.0, "time each variant for at least this long (best call counts)")
flags.DEFINE_string("out", "engine_overhead", "table name under benchmarks/results/")
FLAGS = flags.FLAGS


def bare_chunk(p: int, width: int, rows: int, n_steps: int):
    """n_steps full-batch AdamW steps of the eq. 1 MLP on `rows` random (a, b) pairs, one compiled call."""
    key_u, key_v, key_w = jax.random.split(jax.random.PRNGKey(0), 3)
    std = (16 * width) ** (-1 / 3)  # App. A: N(0, (16N)^(-2/3))
    params = {"U": std * jax.random.normal(key_u, (p, width)), "V": std * jax.random.normal(key_v, (p, width)),
              "W": std * jax.random.normal(key_w, (width, p))}
    rng = np.random.default_rng(0)
    a, b = jnp.asarray(rng.integers(0, p, rows)), jnp.asarray(rng.integers(0, p, rows))
    targets = jax.nn.one_hot((a + b) % p, p)
    optimizer = optax.adamw(0.01, b1=0.9, b2=0.98, weight_decay=1.0)

    def loss(params):
        hidden = (params["U"][a] + params["V"][b]) ** 2
        return jnp.mean((hidden @ params["W"] - targets) ** 2)

    @jax.jit
    def chunk(params, opt_state):
        def step(carry, _):
            params, opt_state = carry
            updates, opt_state = optimizer.update(jax.grad(loss)(params), opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), None
        return jax.lax.scan(step, (params, opt_state), None, length=n_steps)[0]

    holder = [(params, optimizer.init(params))]

    def call():
        holder[0] = chunk(*holder[0])
        return holder[0]
    return call


def main(argv):
    del argv
    cfg, n_steps = CONFIGS["doshi_mlp"], FLAGS.steps
    rows = int(round(0.5 * cfg.p ** 2))  # the engine's reference step: frac 0.5 of the table
    useful_flops = 6.0 * rows * cfg.width * cfg.p  # the output layer's three matmuls
    before = load_average()
    calls = {"engine (one run alone)": compiled_chunk(cfg, grid_of(1), n_steps, alone=True),
             "bare JAX step": bare_chunk(cfg.p, cfg.width, rows, n_steps)}
    matmul, matmul_flops = matmul_fn()
    for call in (*calls.values(), matmul):
        jax.block_until_ready(call())  # first call outside the timing
    times = best_times([*calls.values(), matmul], FLAGS.min_seconds)
    peak = matmul_flops / times[-1][0]
    bare_wall = times[1][0] / n_steps
    table = []
    for (name, _), (wall, cpu) in zip(calls.items(), times):
        step, cpu_step = wall / n_steps, cpu / n_steps
        table.append({"variant": name, "ms/step": step * 1e3, "CPU ms/step": cpu_step * 1e3,
                      "vs bare": step / bare_wall, "GFLOP/step (matmuls)": useful_flops / 1e9,
                      "peak GFLOP/s": peak / 1e9, "frac of peak": useful_flops / step / peak})
    write_table(FLAGS.out, f"Doshi MLP step (p={cfg.p}, N={cfg.width}, {rows} training rows): engine vs bare JAX",
                table, ["variant", "ms/step", "CPU ms/step", "vs bare", "GFLOP/step (matmuls)", "peak GFLOP/s",
                        "frac of peak"], f"{before} / {load_average()}")


if __name__ == "__main__":
    app.run(main)
