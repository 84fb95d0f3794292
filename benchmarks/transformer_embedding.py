"""What the transformer's embedding gather costs under vmap, vs a one-hot matmul embedding.

    nice -n 10 python benchmarks/transformer_embedding.py --config=small_transformer --runs=1,16

grokjax/models/transformer.py embeds tokens with `table[tokens]`, a gather whose
gradient is a scatter-add; under vmap both become batched, which XLA:CPU runs
slowly. `--variant=onehot` swaps in `one_hot(tokens) @ table` (same numbers) for this
process only, to measure the difference. Writes benchmarks/results/transformer_embedding.md.
"""
from __future__ import annotations

import functools
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from absl import app, flags  # noqa: E402

from common import CHUNK_STEPS, CONFIGS, best_times, grid_of, load_average, tree_take, write_table  # noqa: E402
from grokjax.data.datasets import operation_dataset  # noqa: E402
from grokjax.models import transformer as T  # noqa: E402
from grokjax.train.run import make_run_fns  # noqa: E402
from grokjax.train.sweep import BatchTrainer, features_for  # noqa: E402

flags.DEFINE_string("config", "small_transformer", "small_transformer | power_transformer")
flags.DEFINE_list("runs", ["1", "16"], "numbers of vmapped runs R")
flags.DEFINE_float("min_seconds", 1.0, "time each variant for at least this long")
FLAGS = flags.FLAGS
_GATHER_HIDDEN = T._hidden_states


class _OneHotTable:
    """Stands in for the embedding table: `table[tokens]` becomes one_hot(tokens) @ table."""

    def __init__(self, table):
        self.table = table

    def __getitem__(self, tokens):
        return jnp.einsum("...v,vw->...w", jax.nn.one_hot(tokens, self.table.shape[0], dtype=self.table.dtype),
                          self.table)


def _onehot_hidden(params, tokens_BxT, **kwargs):
    """T._hidden_states with the embedding lookup as a one-hot matmul (identical values)."""
    embed = {**params["embed"], "tokens": _OneHotTable(params["embed"]["tokens"])}
    return _GATHER_HIDDEN({**params, "embed": embed}, tokens_BxT, **kwargs)


def measure(variant: str, n_runs: int) -> dict:
    T._hidden_states = _onehot_hidden if variant == "onehot" else _GATHER_HIDDEN
    cfg, n = CONFIGS[FLAGS.config], CHUNK_STEPS[FLAGS.config]
    grid = grid_of(n_runs)
    cfg = features_for(cfg, grid)
    fns = make_run_fns(cfg, operation_dataset(cfg.op, cfg.p))
    trainer = BatchTrainer(cfg, fns)
    hp = trainer.place(grid)
    state = trainer.init(hp)
    s0, h0 = tree_take(state, 0), tree_take(hp, 0)
    single = jax.jit(functools.partial(fns.train_chunk, n_steps=n)).lower(s0, h0).compile()
    batch = trainer.chunk(n).lower(state, hp).compile()
    holder = [s0, state]

    def call_single():
        holder[0], m = single(holder[0], h0)
        return m

    def call_batch():
        holder[1], m = batch(holder[1], hp)
        return m

    (wa, ca), (wb, cb) = best_times([call_single, call_batch], FLAGS.min_seconds)
    return {"config": FLAGS.config, "embedding": variant, "R": n_runs, "alone ms/step": 1e3 * wa / n,
            "vmap ms/run-step": 1e3 * wb / n / n_runs, "cost/run vs alone": wb / n_runs / wa,
            "CPU cost/run vs alone": cb / n_runs / ca}


def main(argv):
    del argv
    before = load_average()
    rows = [measure(v, int(r)) for r in FLAGS.runs for v in ("gather", "onehot")]
    write_table("transformer_embedding", "transformer embedding: gather vs one-hot matmul under vmap", rows,
                list(rows[0]), f"{before} / {load_average()}")


if __name__ == "__main__":
    app.run(main)
