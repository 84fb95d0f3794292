"""Decoder-only causal transformer for Power et al. (2022) "Grokking" (A.1.2).

Pure functions over a nested params dict (no Flax modules) so the library can
`jax.vmap` `apply` over a leading run axis of params. Every matmul is a
`jnp.einsum`, which keeps batched (vmapped) contractions on XLA's dot_general.

Sequence: [x, OP, y, EQ] with OP = n_elements, EQ = n_elements + 1. Only the
hidden state at EQ (the last position) is unembedded, so loss/accuracy are on
the answer token only, as in the paper.
"""
from __future__ import annotations

import math
from typing import Callable

import jax
import jax.numpy as jnp

from grokjax.models.base import Model, make_einsum

SEQ_LEN = 4
N_SPECIAL_TOKENS = 2  # OP and EQ, after the n_elements number tokens
_LN_EPS = 1e-5
_ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "relu": jax.nn.relu,
    "gelu": jax.nn.gelu,
}

# Called as dropout(h, layer_index, sublayer_index) -> h; identity in eval mode.
DropoutFn = Callable[[jax.Array, int, int], jax.Array]


def _ln_params(width: int) -> dict:
    return {"scale": jnp.ones((width,), jnp.float32), "bias": jnp.zeros((width,), jnp.float32)}


def _layernorm(p: dict, h_BxTxW: jax.Array) -> jax.Array:
    mean = h_BxTxW.mean(-1, keepdims=True)
    var = jnp.square(h_BxTxW - mean).mean(-1, keepdims=True)
    return (h_BxTxW - mean) * jax.lax.rsqrt(var + _LN_EPS) * p["scale"] + p["bias"]


def _attention(p: dict, h_BxTxW: jax.Array, causal: bool = True, einsum: Callable = jnp.einsum) -> jax.Array:
    """Multi-head scaled dot-product self-attention (causal, or bidirectional for an encoder).

    With a bfloat16 `einsum` the scores come out float32, so the softmax is float32."""
    q_BxTxHxD = einsum("btw,whd->bthd", h_BxTxW, p["wq"])
    k_BxTxHxD = einsum("btw,whd->bthd", h_BxTxW, p["wk"])
    v_BxTxHxD = einsum("btw,whd->bthd", h_BxTxW, p["wv"])
    head_dim = q_BxTxHxD.shape[-1]
    s_BxHxTxT = einsum("bqhd,bkhd->bhqk", q_BxTxHxD, k_BxTxHxD) / jnp.sqrt(head_dim)
    t = h_BxTxW.shape[1]
    causal_TxT = jnp.tril(jnp.ones((t, t), dtype=bool)) if causal else jnp.ones((t, t), dtype=bool)
    # finfo.min rather than -inf: no NaNs even if a row were fully masked.
    s_BxHxTxT = jnp.where(causal_TxT, s_BxHxTxT, jnp.finfo(s_BxHxTxT.dtype).min)
    a_BxHxTxT = jax.nn.softmax(s_BxHxTxT, axis=-1)
    o_BxTxHxD = einsum("bhqk,bkhd->bqhd", a_BxHxTxT, v_BxTxHxD)
    return einsum("bthd,hdw->btw", o_BxTxHxD, p["wo"])


def _mlp(p: dict, h_BxTxW: jax.Array, act: Callable[[jax.Array], jax.Array],
         einsum: Callable = jnp.einsum) -> jax.Array:
    u_BxTxM = act(einsum("btw,wm->btm", h_BxTxW, p["w_in"]) + p["b_in"])
    return einsum("btm,mw->btw", u_BxTxM, p["w_out"]) + p["b_out"]


def _block_names(params: dict) -> list[str]:
    return sorted((k for k in params if k.startswith("block_")), key=lambda k: int(k[6:]))


def _hidden_states(params: dict, tokens_BxT: jax.Array, *, activation: str = "relu",
                   dropout: DropoutFn | None = None, causal: bool = True,
                   einsum: Callable = jnp.einsum) -> jax.Array:
    """Final (post-ln_final) residual stream at all positions, shape (B, T, W).

    Depth, heads and whether LayerNorm is used are read off the params
    structure (LN params exist only if enabled), so no config is threaded.
    """
    act = _ACTIVATIONS[activation]
    drop: DropoutFn = dropout if dropout is not None else (lambda h, i, j: h)
    t = tokens_BxT.shape[1]
    h_BxTxW = params["embed"]["tokens"][tokens_BxT] + params["embed"]["positions"][:t]
    for i, name in enumerate(_block_names(params)):
        blk = params[name]
        a_BxTxW = _layernorm(blk["ln1"], h_BxTxW) if "ln1" in blk else h_BxTxW
        h_BxTxW = h_BxTxW + drop(_attention(blk["attn"], a_BxTxW, causal, einsum), i, 0)
        m_BxTxW = _layernorm(blk["ln2"], h_BxTxW) if "ln2" in blk else h_BxTxW
        h_BxTxW = h_BxTxW + drop(_mlp(blk["mlp"], m_BxTxW, act, einsum), i, 1)
    if "ln_final" in params:
        h_BxTxW = _layernorm(params["ln_final"], h_BxTxW)
    return h_BxTxW


def make_tokens(x: jax.Array, y: jax.Array, n_elements: int) -> jax.Array:
    """[x, OP, y, EQ] token ids, shape (B, 4)."""
    x = jnp.asarray(x, jnp.int32)
    y = jnp.asarray(y, jnp.int32)
    op = jnp.full_like(x, n_elements)
    eq = jnp.full_like(x, n_elements + 1)
    return jnp.stack([x, op, y, eq], axis=-1)


def make_transformer(n_elements: int, *, width: int = 128, depth: int = 2, heads: int = 4,
                     mlp_width: int | None = None, activation: str = "relu",
                     layernorm: bool = True, use_dropout: bool = False, causal: bool = True,
                     tie_embeddings: bool = False, matmul_dtype: str = "float32") -> Model:
    """Build `Model(init, apply)` for the Power et al. decoder-only transformer.

    `causal=False` lets every position attend to every other: the encoder-only
    transformer of Doshi et al. (2024) Figure 7 (read out at the last position).
    `tie_embeddings=True` (Doshi et al. Figure 12) has no separate unembedding: the logits
    are the last hidden state times the transposed embedding of the n_elements number
    tokens, so one (vocab, width) parameter is both (the OP/EQ rows are only embedded).
    `matmul_dtype="bfloat16"`: bf16 matmul operands, float32 accumulation (base.make_einsum).
    """
    einsum = make_einsum(matmul_dtype)
    if width % heads:
        raise ValueError(f"width={width} must be divisible by heads={heads}")
    if activation not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
    mlp_width = 4 * width if mlp_width is None else mlp_width
    head_dim = width // heads
    vocab = n_elements + N_SPECIAL_TOKENS

    def init(key: jax.Array) -> tuple[dict, dict]:
        # Linear weights: LeCun normal (std 1/sqrt(fan_in)) keeps activations
        # ~unit variance at init; biases zero. Embeddings: std 1/sqrt(width), so
        # each token/position vector has ~unit norm, and the unembedding (fan_in
        # = width after LN) gives O(1) logits. Pre-LN makes the exact embedding
        # scale uncritical for the sublayer inputs.
        std_w, std_m = width ** -0.5, mlp_width ** -0.5
        specs: list[tuple[tuple[str, ...], tuple[int, ...], float]] = [
            (("embed", "tokens"), (vocab, width), std_w),
            (("embed", "positions"), (SEQ_LEN, width), std_w),
        ]
        for i in range(depth):
            b = f"block_{i}"
            specs += [((b, "attn", n), (width, heads, head_dim), std_w) for n in ("wq", "wk", "wv")]
            specs += [((b, "attn", "wo"), (heads, head_dim, width), std_w),
                      ((b, "mlp", "w_in"), (width, mlp_width), std_w),
                      ((b, "mlp", "w_out"), (mlp_width, width), std_m)]
        if not tie_embeddings:
            specs.append((("unembed", "w"), (width, n_elements), std_w))
        # One flat normal draw sliced into leaves: each separate jax.random call
        # is its own unrolled threefry, and a dozen of them cost seconds of XLA
        # compile time on CPU.
        sizes = [math.prod(shape) for _, shape, _ in specs]
        z = jax.random.normal(key, (sum(sizes),), jnp.float32)
        params: dict = {}
        offset = 0
        for (path, shape, std), size in zip(specs, sizes):
            node = params
            for name in path[:-1]:
                node = node.setdefault(name, {})
            node[path[-1]] = std * z[offset:offset + size].reshape(shape)
            offset += size
        for i in range(depth):
            blk = params[f"block_{i}"]
            blk["mlp"]["b_in"] = jnp.zeros((mlp_width,), jnp.float32)
            blk["mlp"]["b_out"] = jnp.zeros((width,), jnp.float32)
            if layernorm:
                blk["ln1"] = _ln_params(width)
                blk["ln2"] = _ln_params(width)
        if layernorm:
            params["ln_final"] = _ln_params(width)
        return params, {}

    def apply(params: dict, state: dict, inputs_Bx2: jax.Array, *, train: bool,
              rng: jax.Array | None = None, dropout_rate: jax.Array | float = 0.0,
              example_mask: jax.Array | None = None) -> tuple[jax.Array, dict]:
        """Logits (B, n_elements) for the answer token; `example_mask` is unused."""
        del example_mask  # no batch statistics here
        x, y = inputs_Bx2[:, 0], inputs_Bx2[:, 1]
        dropout: DropoutFn | None = None
        if use_dropout and train:
            if rng is None:
                raise ValueError("rng is required when train=True and use_dropout=True")
            rate = jnp.asarray(dropout_rate, jnp.float32)
            # One draw for all 2*depth sublayers, indexed by (layer, sublayer):
            # deterministic per sublayer, and a single threefry instance keeps
            # compile time low (each jax.random call is a separately unrolled hash).
            keep_SxBxTxW = jax.random.bernoulli(
                rng, 1.0 - rate, (2 * depth, jnp.shape(x)[0], SEQ_LEN, width))

            def dropout(h: jax.Array, layer: int, sub: int) -> jax.Array:
                return jnp.where(keep_SxBxTxW[2 * layer + sub], h / (1.0 - rate), 0.0)

        h_BxTxW = _hidden_states(params, make_tokens(x, y, n_elements),
                                 activation=activation, dropout=dropout, causal=causal, einsum=einsum)
        logits_BxN = einsum("bw,wn->bn", h_BxTxW[:, -1], unembedding(params))
        return logits_BxN, state

    return Model(init, apply)


def unembedding(params: dict) -> jax.Array:
    """The (..., width, n_elements) output matrix: its own parameter, or (tied) the number
    tokens' embedding transposed; the vocabulary is the numbers then OP, EQ (make_tokens)."""
    if "unembed" in params:
        return params["unembed"]["w"]
    tokens = params["embed"]["tokens"]
    return jnp.swapaxes(tokens[..., :tokens.shape[-2] - N_SPECIAL_TOKENS, :], -1, -2)


def count_params(params: dict) -> int:
    """Total number of scalars in a params pytree (per run if unbatched)."""
    return int(sum(leaf.size for leaf in jax.tree_util.tree_leaves(params)))


def non_embedding_param_count(params: dict) -> int:
    """Parameters excluding 'embed' and 'unembed' (the paper's ~4e5 count)."""
    return count_params({k: v for k, v in params.items() if k not in ("embed", "unembed")})
