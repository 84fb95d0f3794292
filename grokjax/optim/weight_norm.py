"""Constrained-norm training (Omnigrok, Section 2): a weight-norm sphere projection.

Liu et al. compute reduced losses by "rescaling the model weights back to their
original norm after each unconstrained optimization step". As an optax
transformation this is the last element of a chain: given the finished update u
and the current parameters p, it returns u' such that p + u' = (p + u) * w / |p + u|,
where w is the global L2 norm of the parameters passed to init (after the
alpha scaling, so w = alpha * w0).
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


class ConstrainNormState(NamedTuple):
    target_norm: jax.Array  # () global L2 norm every step projects back to


def global_norm(tree) -> jax.Array:
    return jnp.sqrt(sum(jnp.sum(jnp.square(x)) for x in jax.tree.leaves(tree)))


def constrain_global_norm(target_norm: jax.Array | float | None = None) -> optax.GradientTransformation:
    """Keeps the global parameter norm fixed at `target_norm` (default: the norm at init).

    Place it last in an optax chain: it needs the final update and the params.
    """

    def init_fn(params):
        norm = global_norm(params) if target_norm is None else jnp.asarray(target_norm, jnp.float32)
        return ConstrainNormState(target_norm=norm)

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError("constrain_global_norm needs params in update()")
        moved = jax.tree.map(lambda p, u: p + u, params, updates)
        # Guard the (measure-zero) case of an update landing on the origin.
        scale = state.target_norm / jnp.maximum(global_norm(moved), 1e-12)
        return jax.tree.map(lambda m, p: m * scale.astype(m.dtype) - p, moved, params), state

    return optax.GradientTransformation(init_fn, update_fn)
