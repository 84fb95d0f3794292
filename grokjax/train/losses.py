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


LOSSES = {"mse": mse, "ce": cross_entropy}


def masked_mean(values: jax.Array, mask: jax.Array) -> jax.Array:
    """Mean over mask; NaN when the mask is empty (e.g. no corrupted examples)."""
    count = mask.sum()
    total = jnp.where(mask, values, 0.0).sum()
    return jnp.where(count > 0, total / jnp.maximum(count, 1), jnp.nan)
