"""Per-example losses on integer labels; callers take (masked) means."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import optax


def mse(outputs_BxC: jax.Array, targets: jax.Array) -> jax.Array:
    """Mean squared error, averaged over output dimensions (as PyTorch's MSELoss).

    Integer targets are class ids compared with one-hot vectors (Doshi et al.,
    Omnigrok's MNIST); float targets (B, C) are regression targets.
    """
    if jnp.issubdtype(targets.dtype, jnp.integer):
        targets = jax.nn.one_hot(targets, outputs_BxC.shape[-1], dtype=outputs_BxC.dtype)
    return jnp.mean(jnp.square(outputs_BxC - targets.reshape(outputs_BxC.shape)), axis=-1)


def cross_entropy(logits_BxC: jax.Array, labels_B: jax.Array) -> jax.Array:
    return optax.softmax_cross_entropy_with_integer_labels(logits_BxC.astype(jnp.float32), labels_B)


def stablemax(x: jax.Array) -> jax.Array:
    """s(x) = x + 1 for x >= 0, 1 / (1 - x) for x < 0: softmax's exp with linear growth (Prieto et al. 2025)."""
    return jnp.where(x >= 0, x + 1, 1 / (1 - jnp.minimum(x, 0)))  # the minimum keeps the unused branch finite


def stablemax_cross_entropy(logits_BxC: jax.Array, labels_B: jax.Array) -> jax.Array:
    """-log(s(x_label) / sum_j s(x_j)): cross-entropy with StableMax in place of softmax."""
    s_BxC = stablemax(logits_BxC.astype(jnp.float32))
    s_label = jnp.take_along_axis(s_BxC, labels_B[..., None], axis=-1)[..., 0]
    return jnp.log(jnp.sum(s_BxC, axis=-1)) - jnp.log(s_label)


LOSSES = {"mse": mse, "ce": cross_entropy, "stablemax_ce": stablemax_cross_entropy}


def masked_mean(values: jax.Array, mask: jax.Array) -> jax.Array:
    """Mean over mask; NaN when the mask is empty (e.g. no corrupted examples)."""
    count = mask.sum()
    total = jnp.where(mask, values, 0.0).sum()
    return jnp.where(count > 0, total / jnp.maximum(count, 1), jnp.nan)
