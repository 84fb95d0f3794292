"""Doshi et al. (2024) Figures 6, 17, 18, 32: prune hidden neurons in IPR order.

Pruning neuron k zeroes every weight attached to it: row k of U and V, column k
of W (and, with a norm layer, its scale and bias; deeper MLPs: column k of the
next hidden layer). The pruned network is evaluated by the engine's own
`evaluate` (grokjax.train.run), so the curves hold every metric of a training run:
accuracy and loss on the test set, on the clean and on the corrupted training
examples, and `train_corrupt_true_acc` (the true answer predicted on corrupted ones).
"""
from __future__ import annotations

import functools
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from grokjax.config import StaticConfig
from grokjax.data.datasets import operation_dataset
from grokjax.train.run import make_run_fns

DIRECTIONS = ("low_first", "high_first")


def prune_neurons(params: dict, keep_N) -> dict:
    """Params with the first-layer neurons where keep_N is 0 removed (their weights zeroed)."""
    keep = jnp.asarray(keep_N, jnp.float32)
    out = dict(params)
    out["U"] = params["U"] * keep[:, None]
    out["V"] = params["V"] * keep[:, None]
    if "hidden_1" in params:  # deeper MLP: the neuron feeds the next hidden layer
        out["hidden_1"] = params["hidden_1"] * keep[None, :]
    else:
        out["W"] = params["W"] * keep[None, :]
    for name in ("batchnorm_0", "layernorm_0"):
        if name in params:
            out[name] = {k: v * keep for k, v in params[name].items()}
    return out


def pruning_order(neuron_ipr_N: np.ndarray, direction: str) -> np.ndarray:
    """Neuron indices in the order they are pruned: lowest IPR first or highest first."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction={direction!r}; choose one of {DIRECTIONS}")
    order = np.argsort(np.nan_to_num(neuron_ipr_N, nan=-1.0), kind="stable")
    return order if direction == "low_first" else order[::-1]


def keep_masks(order: np.ndarray, counts: Sequence[int]) -> np.ndarray:
    """(len(counts), N) 0/1 masks: mask i has the first counts[i] neurons of `order` pruned."""
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order))
    return (rank[None, :] >= np.asarray(counts)[:, None]).astype(np.float32)


@functools.lru_cache(maxsize=8)
def evaluators(cfg: StaticConfig):
    """Jitted (init, evaluate-pruned) for the operation table of `cfg`, compiled once per config."""
    fns = make_run_fns(cfg, operation_dataset(cfg.op, cfg.p))
    return jax.jit(fns.init), jax.jit(
        lambda state, hp, params, keep_N: fns.evaluate(state._replace(params=prune_neurons(params, keep_N)), hp))


def pruning_curves(cfg: StaticConfig, hp: dict, params: dict, order: np.ndarray, counts: Sequence[int],
                   model_state: dict | None = None) -> dict[str, np.ndarray]:
    """Every evaluation metric after pruning counts[i] neurons of `order`: name -> (len(counts),).

    `hp` is one run's hyperparameters (its grid row: frac, xi, data_seed... rebuild
    the run's exact split and corrupted labels); `params` that run's trained weights.
    `model_state` (BatchNorm running statistics) defaults to the state at init.
    """
    init, evaluate_pruned = evaluators(cfg)
    hp = {k: jnp.asarray(v) for k, v in hp.items()}
    state = init(hp)
    if model_state is not None:
        state = state._replace(model_state=model_state)
    params = jax.tree.map(jnp.asarray, params)
    rows = [jax.device_get(evaluate_pruned(state, hp, params, mask)) for mask in keep_masks(order, counts)]
    return {k: np.asarray([r[k] for r in rows]) for k in rows[0]}


def run_hparams(grid: dict, index: int) -> dict:
    """One run's hyperparameters (a row of a sweep grid) as scalars."""
    return {k: v[index] for k, v in grid.items()}


def max_prunable(val_acc_K: np.ndarray, counts: Sequence[int], threshold: float) -> int:
    """Most neurons pruned (low IPR first) while test accuracy stays >= threshold (Figure 32).

    Counts the prefix of the curve: the first drop below the threshold ends it.
    """
    ok = np.asarray(val_acc_K) >= threshold
    if not ok[0]:
        return 0
    last = len(ok) if ok.all() else int(np.argmin(ok))
    return int(np.asarray(counts)[last - 1])
