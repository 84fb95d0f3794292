"""Omnigrok Figure 5's GCNN: two graph convolutions (ReLU) -> mean over atoms -> linear head.

    H1 = relu(A_hat X W1 + b1),  H2 = relu(A_hat H1 W2 + b2),  y = mean_atoms(H2) W3 + b3

A_hat is the normalized adjacency with self loops (Kipf & Welling) the data
provides. Linear layers use PyTorch's default init, U[-1/sqrt(fan_in), 1/sqrt(fan_in)].
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from grokjax.models.base import Model, make_einsum


def make_gcn(n_features: int, *, hidden: int = 64, layers: int = 2, d_out: int = 1,
             matmul_dtype: str = "float32") -> Model:
    einsum = make_einsum(matmul_dtype)
    dims = [n_features, *([hidden] * layers), d_out]
    shapes = [(f"layer_{i}", (a, b)) for i, (a, b) in enumerate(zip(dims[:-1], dims[1:]))]

    def init(key):
        sizes = [a * b + b for _, (a, b) in shapes]
        flat = jax.random.uniform(key, (sum(sizes),), minval=-1.0, maxval=1.0)
        params, start = {}, 0
        for name, (a, b) in shapes:
            bound = 1.0 / math.sqrt(a)
            params[name] = {"w": bound * flat[start:start + a * b].reshape(a, b),
                            "b": bound * flat[start + a * b:start + a * b + b]}
            start += a * b + b
        return params, {}

    def apply(params, state, inputs, *, train=False, rng=None, dropout_rate=0.0, example_mask=None):
        del train, rng, dropout_rate, example_mask
        h, adj, mask = inputs["nodes"], inputs["adj"], inputs["mask"].astype(jnp.float32)
        for i in range(layers):
            layer = params[f"layer_{i}"]
            h = jax.nn.relu(einsum("bij,bjg->big", adj, einsum("bif,fg->big", h, layer["w"])) + layer["b"])
        pooled = jnp.einsum("bif,bi->bf", h, mask) / jnp.maximum(mask.sum(1, keepdims=True), 1.0)
        head = params[f"layer_{layers}"]
        return einsum("bf,fo->bo", pooled, head["w"]) + head["b"], state

    return Model(init, apply)
