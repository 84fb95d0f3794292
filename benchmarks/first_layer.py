"""The Doshi MLP's loss and gradients on a run's training rows, first layer done five ways, vmapped.

    nice -n 5 python benchmarks/first_layer.py --runs=4 --rows=0.5      # full-batch step at frac 0.5
    nice -n 5 python benchmarks/first_layer.py --runs=4 --rows=512      # a minibatch of 512 rows

Why the engine gathers rows (grokjax/train/run.py training_rows, grokjax/models/mlp.py): the
first layer U e_x + V e_y of C rows is either a one-hot matmul, a gather (gradient: a
scatter-add), or a broadcast over the whole p x p table. This times value_and_grad of the
MSE loss of R vmapped runs, each variant interleaved with the others, and checks that all
give the same loss and gradients. Writes benchmarks/results/first_layer*.{md,csv}.
"""
from __future__ import annotations

import functools
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from common import best_times, load_average, write_table  # noqa: E402

flags.DEFINE_integer("runs", 4, "vmapped runs R")
flags.DEFINE_float("rows", 0.5, "training rows: a fraction of the p^2 table if < 1, else a count")
flags.DEFINE_integer("p", 97, "table size")
flags.DEFINE_integer("width", 500, "hidden width N")
flags.DEFINE_string("out", "", "table name under benchmarks/results/ (default first_layer_<rows>)")
FLAGS = flags.FLAGS


def variants(p: int, n_rows: int) -> dict:
    """name -> loss(params, perm) of one run whose training rows are perm[:n_rows]."""
    n = p * p
    xs, ys = np.repeat(np.arange(p), p), np.tile(np.arange(p), p)
    answers = jnp.asarray((xs + ys) % p)
    xs, ys = jnp.asarray(xs), jnp.asarray(ys)

    def output_loss(h_BxN, params, labels, weights):
        logits = jnp.einsum("bn,cn->bc", jnp.square(h_BxN), params["W"])
        return jnp.sum(weights * jnp.mean(jnp.square(logits - jax.nn.one_hot(labels, p)), -1))

    def whole_table(params, perm):  # the engine before: every row, loss masked
        train = jnp.zeros(n, bool).at[perm[:n_rows]].set(True)
        h = (params["U"].T[:, None, :] + params["V"].T[None, :, :]).reshape(n, -1)
        return output_loss(h, params, answers, train / n_rows)

    def rows_with(first_layer, sort):
        def loss(params, perm):
            rows = jnp.sort(perm[:n_rows]) if sort else perm[:n_rows]
            h = first_layer(params, xs[rows], ys[rows])
            return output_loss(h, params, answers[rows], jnp.full(n_rows, 1.0 / n_rows))
        return loss

    def onehot(params, x, y):
        return (jnp.einsum("bp,np->bn", jax.nn.one_hot(x, p), params["U"])
                + jnp.einsum("bp,np->bn", jax.nn.one_hot(y, p), params["V"]))

    def gather(params, x, y):
        return params["U"].T[x] + params["V"].T[y]

    @jax.custom_vjp
    def take(table_PxN, idx):
        return table_PxN[idx]

    take.defvjp(lambda t, idx: (t[idx], (idx, t.shape[0])),
                lambda res, g: (jnp.einsum("bp,bn->pn", jax.nn.one_hot(res[0], res[1], dtype=g.dtype), g), None))

    def gather_onehot_grad(params, x, y):
        return take(params["U"].T, x) + take(params["V"].T, y)

    def no_first_layer_grad(params, x, y):  # a floor: the output layer alone
        return jax.lax.stop_gradient(gather(params, x, y))

    return {"whole table, masked": whole_table, "rows: one-hot matmul": rows_with(onehot, False),
            "rows: gather": rows_with(gather, False), "rows: sorted gather": rows_with(gather, True),
            "rows: gather, one-hot grad": rows_with(gather_onehot_grad, False),
            "rows: output layer only (floor)": rows_with(no_first_layer_grad, True)}


def main(argv):
    del argv
    p, width, n_runs = FLAGS.p, FLAGS.width, FLAGS.runs
    n_rows = int(FLAGS.rows * p * p) if FLAGS.rows < 1 else int(FLAGS.rows)
    std = (16.0 * width) ** (-1.0 / 3.0)
    keys = jax.random.split(jax.random.key(0), n_runs)
    params = jax.vmap(lambda k: {name: std * jax.random.normal(jax.random.fold_in(k, i), shape) for i, (name, shape)
                                 in enumerate({"U": (width, p), "V": (width, p), "W": (p, width)}.items())})(keys)
    perms = jax.vmap(lambda k: jax.random.permutation(k, p * p))(jax.random.split(jax.random.key(1), n_runs))
    fns = {name: jax.jit(jax.vmap(jax.value_and_grad(f))) for name, f in variants(p, n_rows).items()}
    ref_loss, ref_grads = fns["whole table, masked"](params, perms)
    for name, f in fns.items():
        loss, grads = f(params, perms)
        np.testing.assert_allclose(loss, ref_loss, rtol=1e-5)
        if "floor" not in name:
            for g, r in zip(jax.tree.leaves(grads), jax.tree.leaves(ref_grads)):
                np.testing.assert_allclose(g, r, rtol=1e-4, atol=1e-6 * float(jnp.abs(r).max()))
    before = load_average()
    times = best_times([functools.partial(f, params, perms) for f in fns.values()], min_seconds=5.0, min_rounds=3)
    (wall0, cpu0) = times[0]
    rows = [{"rows": n_rows, "R": n_runs, "variant": name, "ms/run (wall)": 1e3 * wall / n_runs,
             "CPU ms/run": 1e3 * cpu / n_runs, "CPU vs whole table": cpu / cpu0}
            for name, (wall, cpu) in zip(fns, times)]
    write_table(FLAGS.out or f"first_layer_{n_rows}", f"Doshi MLP loss + gradients, p={p}, N={width}: first layer "
                "variants (interleaved; same loss and gradients)", rows, list(rows[0]), f"{before} / {load_average()}")


if __name__ == "__main__":
    app.run(main)
