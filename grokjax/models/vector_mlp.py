"""A plain MLP on float vector inputs with PyTorch's default ("standard") init.

Omnigrok footnote 1: every linear layer has weight and bias ~ U[-s, s] with
s = 1/sqrt(fan_in), as torch.nn.Linear. The initialization scale alpha is
applied by the engine afterwards (all parameters multiplied). Used for the
teacher-student setup (5-100-100-5 tanh) and MNIST (784-200-200-10 ReLU).
"""
from __future__ import annotations

import itertools
import math
from typing import Sequence

import jax
import jax.numpy as jnp

from grokjax.models.base import ACTIVATIONS, Model, dropout, make_einsum

VECTOR_ACTIVATIONS = {**ACTIVATIONS, "tanh": jnp.tanh}


def layer_sizes(d_in: int, width: int, depth: int, d_out: int) -> list[int]:
    """[d_in, width x (depth - 1), d_out]: `depth` linear layers (Omnigrok's 'depth-3')."""
    return [d_in, *([width] * (depth - 1)), d_out]


def make_vector_mlp(sizes: Sequence[int], *, activation: str = "relu", use_dropout: bool = False,
                    matmul_dtype: str = "float32") -> Model:
    """An MLP with linear layers sizes[i] -> sizes[i+1]; the activation between layers only."""
    einsum = make_einsum(matmul_dtype)
    act = VECTOR_ACTIVATIONS[activation]
    shapes = {}
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        shapes[f"layer_{i}"] = {"w": (fan_in, fan_out), "b": (fan_out,)}
    flat_shapes = [(name, part, shape, 1.0 / math.sqrt(shape_in["w"][0]))
                   for name, shape_in in shapes.items() for part, shape in shape_in.items()]

    def init(key):
        # One flat uniform draw, sliced (each jax.random call costs compile time on CPU).
        sizes_ = [math.prod(s) for _, _, s, _ in flat_shapes]
        flat = jax.random.uniform(key, (sum(sizes_),), minval=-1.0, maxval=1.0)
        params = {}
        for (name, part, shape, bound), start, size in zip(flat_shapes, itertools.accumulate(sizes_, initial=0),
                                                           sizes_):
            params.setdefault(name, {})[part] = bound * flat[start:start + size].reshape(shape)
        return params, {}

    def apply(params, state, inputs_BxD, *, train=False, rng=None, dropout_rate=0.0, example_mask=None):
        del example_mask
        h = inputs_BxD.reshape(inputs_BxD.shape[0], -1).astype(jnp.float32)
        n_layers = len(sizes) - 1
        for i in range(n_layers):
            layer = params[f"layer_{i}"]
            h = einsum("bi,io->bo", h, layer["w"]) + layer["b"]
            if i < n_layers - 1:
                h = act(h)
                if use_dropout and train:
                    h = dropout(h, dropout_rate, jax.random.fold_in(rng, i))
        return h, state

    return Model(init, apply)
