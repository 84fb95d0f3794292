"""The model interface every grokjax model implements: pure init and apply."""
from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from grokjax.errors import check_allowed

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


# Operand precision of the models' matmuls: the allowed values of StaticConfig.matmul_dtype
# (grokjax.config.choices reads them here); accumulation is float32 either way.
MATMUL_DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


def make_einsum(matmul_dtype: str = "float32") -> Callable[..., jax.Array]:
    """The einsum every model contraction goes through.

    "float32" is plain `jnp.einsum`. "bfloat16" casts the operands to bfloat16 and
    accumulates in float32 (`preferred_element_type`), so outputs, everything
    elementwise after them (activations, LayerNorm, softmax, losses), the parameters
    and the optimizer state all stay float32: mixed precision, not a bf16 model.

    XLA:CPU cannot run a bf16 x bf16 -> f32 dot inside a loop ("Unsupported element
    type for DotThunk"), so on the CPU the operands are rounded to bfloat16 and the
    dot runs in float32. That is the same arithmetic (a product of two bf16 numbers
    is exact in float32; only the summation order may differ), at no speed gain.
    """
    check_allowed("matmul_dtype", matmul_dtype, MATMUL_DTYPES)
    if matmul_dtype == "float32":
        return jnp.einsum
    dtype = MATMUL_DTYPES[matmul_dtype]

    def einsum(spec: str, *operands: jax.Array) -> jax.Array:
        low = [jnp.asarray(x).astype(dtype) for x in operands]
        if jax.default_backend() == "cpu":
            return jnp.einsum(spec, *(x.astype(jnp.float32) for x in low))
        return jnp.einsum(spec, *low, preferred_element_type=jnp.float32)
    return einsum


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
