"""Custom optax GradientTransformations for the grokking ablations.

Each is a factory returning `optax.GradientTransformation` with a NamedTuple
state; anything random carries its own PRNG key in that state (as optax.add_noise).
Scalars such as `scale` or `weight_decay` may be traced arrays, so a vmapped
sweep can give every run its own value.
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


class UpdateNoiseState(NamedTuple):
    rng: jax.Array


def add_update_noise(scale: jax.Array, rng: jax.Array) -> optax.GradientTransformation:
    """Adds scale * N(0, 1) to every update entry.

    Placed after the Adam direction and before the learning rate, this is Power et
    al. A.1.2's "W <- W + lr (dW + eps)". Unlike optax.add_noise the variance does
    not decay with the step count.
    """

    def init_fn(params):
        del params
        return UpdateNoiseState(rng=rng)

    def update_fn(updates, state, params=None):
        del params
        rng, step_key = jax.random.split(state.rng)
        leaves, treedef = jax.tree.flatten(updates)
        keys = jax.random.split(step_key, len(leaves))
        noisy = [u + scale * jax.random.normal(k, u.shape, u.dtype) for u, k in zip(leaves, keys)]
        return jax.tree.unflatten(treedef, noisy), UpdateNoiseState(rng=rng)

    return optax.GradientTransformation(init_fn, update_fn)


class DecayTowardsInitState(NamedTuple):
    anchor: optax.Params


def add_decayed_weights_towards_init(weight_decay: jax.Array) -> optax.GradientTransformation:
    """Adds weight_decay * (params - params_at_init): decay towards the initialization.

    Power et al. Figure 2 compare this with ordinary decay towards the origin
    (optax.add_decayed_weights). The anchor is captured from the params given to init.
    """

    def init_fn(params):
        return DecayTowardsInitState(anchor=jax.tree.map(jnp.asarray, params))

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError("add_decayed_weights_towards_init needs params in update()")
        updates = jax.tree.map(lambda u, p, a: u + weight_decay * (p - a), updates, params, state.anchor)
        return updates, state

    return optax.GradientTransformation(init_fn, update_fn)


def linear_warmup(lr: jax.Array, warmup_steps: int) -> optax.Schedule:
    """lr * min(1, (t + 1) / warmup_steps): Power et al.'s warmup over the first updates."""
    if warmup_steps <= 0:
        return lambda count: lr
    return lambda count: lr * jnp.minimum(1.0, (count + 1) / warmup_steps)
