"""Per-example losses on integer labels; callers take (masked) means."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import optax


def mse(logits_BxC: jax.Array, labels_B: jax.Array) -> jax.Array:
    """Mean squared error against one-hot targets, averaged over classes (PyTorch MSELoss)."""
    onehot_BxC = jax.nn.one_hot(labels_B, logits_BxC.shape[-1], dtype=logits_BxC.dtype)
    return jnp.mean(jnp.square(logits_BxC - onehot_BxC), axis=-1)


def cross_entropy(logits_BxC: jax.Array, labels_B: jax.Array) -> jax.Array:
    return optax.softmax_cross_entropy_with_integer_labels(logits_BxC.astype(jnp.float32), labels_B)


LOSSES = {"mse": mse, "ce": cross_entropy}


def masked_mean(values: jax.Array, mask: jax.Array) -> jax.Array:
    """Mean over mask; NaN when the mask is empty (e.g. no corrupted examples)."""
    count = mask.sum()
    total = jnp.where(mask, values, 0.0).sum()
    return jnp.where(count > 0, total / jnp.maximum(count, 1), jnp.nan)
