"""Omnigrok Figure 4's classifier: embedding -> stacked LSTM -> linear head on the last hidden state.

PyTorch-default ("standard") init: embedding ~ N(0, 1), LSTM weights and biases
~ U[-1/sqrt(H), 1/sqrt(H)] (with PyTorch's two bias vectors folded into one of
twice the variance), head ~ U[-1/sqrt(H), 1/sqrt(H)]. Token 0 is padding; inputs
are left-padded, so the last step's state summarizes the review.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from grokjax.models.base import Model, make_einsum


def make_lstm(vocab_size: int, n_classes: int, *, embed: int = 64, hidden: int = 128, layers: int = 2,
              matmul_dtype: str = "float32") -> Model:
    """vocab_size counts real tokens; ids are 0 (pad) .. vocab_size."""
    einsum = make_einsum(matmul_dtype)
    bound = 1.0 / math.sqrt(hidden)
    shapes = [("embed", (vocab_size + 1, embed))]
    for i in range(layers):
        d_in = embed if i == 0 else hidden
        shapes += [(f"lstm_{i}/w_x", (d_in, 4 * hidden)), (f"lstm_{i}/w_h", (hidden, 4 * hidden)),
                   (f"lstm_{i}/b", (4 * hidden,))]
    shapes += [("head/w", (hidden, n_classes)), ("head/b", (n_classes,))]

    def init(key):
        sizes = [math.prod(s) for _, s in shapes]
        k_normal, k_uniform = jax.random.split(key)
        normal = jax.random.normal(k_normal, (sizes[0],))
        uniform = jax.random.uniform(k_uniform, (sum(sizes[1:]),), minval=-bound, maxval=bound)
        params = {"embed": normal.reshape(shapes[0][1])}
        start = 0
        for (name, shape), size in zip(shapes[1:], sizes[1:]):
            group, leaf = name.split("/")
            value = uniform[start:start + size].reshape(shape)
            if leaf == "b":  # b_ih + b_hh: the sum of two U[-s, s]
                value = value * math.sqrt(2.0)
            params.setdefault(group, {})[leaf] = value
            start += size
        return params, {}

    def cell(layer, carry, x_BxD):
        h, c = carry
        gates = einsum("bd,dg->bg", x_BxD, layer["w_x"]) + einsum("bh,hg->bg", h, layer["w_h"]) + layer["b"]
        i, f, g, o = jnp.split(gates, 4, axis=-1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (h, c), h

    def apply(params, state, tokens_BxT, *, train=False, rng=None, dropout_rate=0.0, example_mask=None):
        del train, rng, dropout_rate, example_mask
        # One-hot matmul, not a gather: vmapped runs stay on the batched-matmul path.
        x = einsum("btv,ve->tbe", jax.nn.one_hot(tokens_BxT, vocab_size + 1), params["embed"])
        batch = tokens_BxT.shape[0]
        for i in range(layers):
            layer = params[f"lstm_{i}"]
            zeros = jnp.zeros((batch, hidden), x.dtype)
            _, x = jax.lax.scan(lambda carry, x_t, layer=layer: cell(layer, carry, x_t), (zeros, zeros), x)
        return einsum("bh,hc->bc", x[-1], params["head"]["w"]) + params["head"]["b"], state

    return Model(init, apply)
