"""Doshi et al. (2024) eq. 1: a bias-free MLP on one-hot operand pairs.

    f(m, n) = W phi(U e_m + V e_n)

U, V are (N, p) and W is (p, N), the shapes the paper's IPR is defined on
(rows of U and V, columns of W). `depth > 1` inserts (N, N) hidden layers
(Doshi et al. Figure 7 use a 3-layer ReLU MLP). An optional BatchNorm or
LayerNorm and dropout follow each activation.

`init` picks the weight distribution of every layer (Doshi et al. App. A and G.3):
"doshi" N(0, (16N)^(-2/3)), "standard" N(0, 2/fan_in), "lazy" N(0, 2/N^(2/3)).
"""
from __future__ import annotations

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np

from grokjax.errors import check_allowed
from grokjax.models.base import ACTIVATIONS, MATMUL_DTYPES, Model, dropout, make_einsum

BATCHNORM_MOMENTUM = 0.1  # PyTorch's default, which the paper's code uses
NORM_EPS = 1e-5


def doshi_init_std(width: int) -> float:
    """Doshi et al. App. A: weights ~ N(0, (16N)^(-2/3)), i.e. std (16N)^(-1/3)."""
    return (16.0 * width) ** (-1.0 / 3.0)


INITS = ("doshi", "standard", "lazy")  # the allowed StaticConfig.init values (grokjax.config reads them)


def init_stds(init: str, n_elements: int, width: int, depth: int) -> dict[str, float]:
    """The std of each weight matrix under `init` (doshi, standard or lazy), keyed like the params.

    "standard" is He init on the paper's layers: the input layer is W_in = [U V], one
    (N, 2p) matrix on the concatenated one-hots (eq. 1; the authors' code has
    nn.Linear(2p, N)), so its fan_in is 2 * n_elements; hidden layers and W have fan_in N.
    """
    check_allowed("init", init, INITS)
    if init == "doshi":
        stds = dict.fromkeys(("U", "V", "W"), doshi_init_std(width))
    elif init == "standard":
        input_std = math.sqrt(2.0 / (2 * n_elements))
        stds = {"U": input_std, "V": input_std, "W": math.sqrt(2.0 / width)}
    else:  # lazy
        stds = dict.fromkeys(("U", "V", "W"), math.sqrt(2.0) * width ** (-1.0 / 3.0))
    return {**stds, **{f"hidden_{i}": stds["W"] for i in range(1, depth)}}


def _masked_moments(h_BxN: jax.Array, mask_B: jax.Array | None):
    if mask_B is None:
        return h_BxN.mean(0), h_BxN.var(0)
    w_B = mask_B.astype(h_BxN.dtype) / jnp.maximum(mask_B.sum(), 1)
    mean = jnp.einsum("b,bn->n", w_B, h_BxN)
    var = jnp.einsum("b,bn->n", w_B, jnp.square(h_BxN - mean))
    return mean, var


def product_grid(inputs_Bx2) -> tuple[np.ndarray, np.ndarray] | None:
    """(xs, ys) if `inputs` is a concrete (not traced) table of every pair xs x ys in
    row-major order (how operation tables are stored), else None."""
    if not USE_TABLE_STRUCTURE:
        return None
    try:
        arr = np.asarray(inputs_Bx2)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return None
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] < 2:
        return None
    key = (arr.shape, arr.tobytes())
    if key not in _GRID_CACHE:
        xs, ys = np.unique(arr[:, 0]), np.unique(arr[:, 1])
        full = (len(xs) * len(ys) == len(arr) and np.array_equal(arr[:, 0], np.repeat(xs, len(ys)))
                and np.array_equal(arr[:, 1], np.tile(ys, len(xs))))
        _GRID_CACHE.clear()  # one table at a time is the common case; keep the cache small
        _GRID_CACHE[key] = (xs, ys) if full else None
    return _GRID_CACHE[key]


_GRID_CACHE: dict = {}
# False: full tables take the generic row-gather path too (benchmarks/vmap_cost.py --generic_mlp).
USE_TABLE_STRUCTURE = True


def make_mlp(n_elements: int, *, width: int = 500, depth: int = 1, activation: str = "quadratic",
             norm: str = "none", use_dropout: bool = False, n_classes: int | None = None,
             matmul_dtype: str = "float32", init: str = "doshi") -> Model:
    n_classes = n_classes or n_elements
    einsum = make_einsum(matmul_dtype)
    operand_dtype = MATMUL_DTYPES[matmul_dtype]
    act = ACTIVATIONS[activation]
    shapes = {"U": (width, n_elements), "V": (width, n_elements), "W": (n_classes, width),
              **{f"hidden_{i}": (width, width) for i in range(1, depth)}}
    stds = init_stds(init, n_elements, width, depth)

    def init_params(key):  # not `init`: that is the scheme's name here
        # One flat draw, sliced: each separate jax.random call costs seconds of XLA compile on CPU.
        sizes = [math.prod(s) for s in shapes.values()]
        flat = jax.random.normal(key, (sum(sizes),))
        offsets = itertools.accumulate(sizes, initial=0)
        params = {name: stds[name] * flat[start:start + size].reshape(shape)
                  for (name, shape), start, size in zip(shapes.items(), offsets, sizes)}
        state = {}
        if norm != "none":
            for i in range(depth):
                params[f"{norm}_{i}"] = {"scale": jnp.ones(width), "bias": jnp.zeros(width)}
            if norm == "batchnorm":
                state = {f"batchnorm_{i}": {"mean": jnp.zeros(width), "var": jnp.ones(width)}
                         for i in range(depth)}
        return params, state

    def normalize(params, state, i, h_BxN, train, example_mask):
        name = f"{norm}_{i}"
        if norm == "layernorm":
            mean, var = h_BxN.mean(-1, keepdims=True), h_BxN.var(-1, keepdims=True)
        elif train:
            mean, var = _masked_moments(h_BxN, example_mask)
            n = h_BxN.shape[0] if example_mask is None else jnp.maximum(example_mask.sum(), 2)
            unbiased = var * n / (n - 1)  # PyTorch keeps the unbiased variance as running stat
            old = state[name]
            state = {**state, name: {
                "mean": (1 - BATCHNORM_MOMENTUM) * old["mean"] + BATCHNORM_MOMENTUM * mean,
                "var": (1 - BATCHNORM_MOMENTUM) * old["var"] + BATCHNORM_MOMENTUM * unbiased}}
        else:
            mean, var = state[name]["mean"], state[name]["var"]
        h_BxN = (h_BxN - mean) * jax.lax.rsqrt(var + NORM_EPS)
        return h_BxN * params[name]["scale"] + params[name]["bias"], state

    def rounded_T(u_NxP):
        """u^T rounded as a matmul operand would be, so gathers, the table path and one-hot
        matmuls compute the same function (also with --matmul_dtype=bfloat16)."""
        return u_NxP.T.astype(operand_dtype).astype(u_NxP.dtype)

    def rows_of(u_NxP, idx):
        """u[:, idx].T: a plain transpose for all symbols in order, else a (small) one-hot matmul."""
        if len(idx) == n_elements and np.array_equal(idx, np.arange(n_elements)):
            return rounded_T(u_NxP)
        return einsum("xp,np->xn", jax.nn.one_hot(idx, n_elements, dtype=u_NxP.dtype), u_NxP)

    def first_layer(params, inputs_Bx2):
        """U e_x + V e_y for every row: (B, N)."""
        grid = product_grid(inputs_Bx2)
        if grid is not None:
            # A full (x, y) product table (the full-batch case): h[x, y] = A[x] + B[y] with
            # A = U^T restricted to the xs, B likewise; a broadcast add instead of two
            # (p^2, p) x (p, N) one-hot matmuls, ~2.4x fewer FLOPs per step, and the
            # gradients of U, V become plain reductions (no scatter under vmap).
            xs, ys = grid
            a_XxN, b_YxN = rows_of(params["U"], xs), rows_of(params["V"], ys)
            return (a_XxN[:, None, :] + b_YxN[None, :, :]).reshape(len(xs) * len(ys), -1)
        x, y = inputs_Bx2[:, 0], inputs_Bx2[:, 1]
        # Row gathers (gradient: a scatter-add), not one-hot matmuls: measured 2.0x cheaper
        # per vmapped run on CPU for 512 rows, 1.4x for 4704 (benchmarks/first_layer.py).
        return rounded_T(params["U"])[x] + rounded_T(params["V"])[y]

    def apply(params, state, inputs_Bx2, *, train=False, rng=None, dropout_rate=0.0, example_mask=None):
        h_BxN = first_layer(params, inputs_Bx2)
        for i in range(depth):
            if i > 0:
                h_BxN = einsum("bm,nm->bn", h_BxN, params[f"hidden_{i}"])
            h_BxN = act(h_BxN)
            if norm != "none":
                h_BxN, state = normalize(params, state, i, h_BxN, train, example_mask)
            if use_dropout and train:
                h_BxN = dropout(h_BxN, dropout_rate, jax.random.fold_in(rng, i))
        return einsum("bn,cn->bc", h_BxN, params["W"]), state

    return Model(init_params, apply)
