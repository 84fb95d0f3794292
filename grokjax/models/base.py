"""The model interface every grokjax model implements: pure init and apply."""
from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

Params = dict
State = dict  # non-trainable state, e.g. BatchNorm running statistics; {} if none


class Model(NamedTuple):
    """init(key) -> (params, state);
    apply(params, state, inputs, *, train, rng, dropout_rate, example_mask) -> (outputs_BxC, state).

    `inputs` is a batch of the dataset's inputs (for operation tables: (B, 2)
    int operand pairs). `example_mask` (B,) marks the rows that are real training
    examples, so layers with batch statistics (BatchNorm) ignore the masked-out
    rows of a full-table batch. `rng` may be None when `train` is False.
    """

    init: Callable[[jax.Array], tuple[Params, State]]
    apply: Callable[..., tuple[jax.Array, State]]


def dropout(x: jax.Array, rate: jax.Array, rng: jax.Array) -> jax.Array:
    """Inverted dropout with a (possibly traced) rate."""
    keep = jax.random.bernoulli(rng, 1.0 - rate, x.shape)
    return jnp.where(keep, x / (1.0 - rate), 0.0)


ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "quadratic": jnp.square,
    "relu": jax.nn.relu,
    "gelu": jax.nn.gelu,
}


def scale_params(params: Params, alpha: jax.Array) -> Params:
    """Omnigrok's initialization scale: every parameter multiplied by alpha."""
    return jax.tree.map(lambda w: w * alpha, params)
