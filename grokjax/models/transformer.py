"""Decoder-only causal transformer for Power et al. (2022) "Grokking" (A.1.2).

Pure functions over a nested params dict (no Flax modules) so the library can
`jax.vmap` `apply` over a leading run axis of params.

Sequence: [x, OP, y, EQ] with OP = n_elements, EQ = n_elements + 1. Only the
hidden state at EQ (the last position) is unembedded, so loss/accuracy are on
the answer token only, as in the paper.

`apply` computes exactly that function with less work than running every position
through every layer (tests/test_transformer.py checks it against the plain forward
pass, tests/transformer_reference.py):
* The last layer computes only the last position: its other outputs are never read.
  Its keys and values still come from every position.
* Under the causal mask, positions 0 (x) and 1 (OP) see only x, so their states at
  every layer are a function of x alone: they are computed once per table element
  (n_elements rows, the "prefix table") and gathered by x, instead of once per
  example. Training dropout draws a mask per example, so it takes the per-example
  path (as does `causal=False`, where position 0 sees y).
* Projections are 2-D matmuls over (examples x positions, width), with Q, K and V fused
  into one (width, 3 width) weight.
For the paper's model at batch 512 this is 2.2x fewer matmul FLOPs per step
(docs/performance.md). The parameters keep their shapes (wq: (width, heads, head_dim)
...), so checkpoints from before the change restore unchanged.
"""
from __future__ import annotations

import math
from typing import Callable

import jax
import jax.numpy as jnp

from grokjax.models.base import Model, make_einsum

SEQ_LEN = 4
N_SPECIAL_TOKENS = 2  # OP and EQ, after the n_elements number tokens
PREFIX_LEN = 2  # x and OP: under the causal mask their states depend on x alone
_LN_EPS = 1e-5
_ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "relu": jax.nn.relu,
    "gelu": jax.nn.gelu,
}

# Called as dropout(h, layer_index, sublayer_index) on the states of the last h.shape[-2]
# positions -> h; identity in eval mode.
DropoutFn = Callable[[jax.Array, int, int], jax.Array]


def _no_dropout(h: jax.Array, layer: int, sub: int) -> jax.Array:
    del layer, sub
    return h


def _ln_params(width: int) -> dict:
    return {"scale": jnp.ones((width,), jnp.float32), "bias": jnp.zeros((width,), jnp.float32)}


def _layernorm(p: dict, h_NxW: jax.Array) -> jax.Array:
    mean = h_NxW.mean(-1, keepdims=True)
    var = jnp.square(h_NxW - mean).mean(-1, keepdims=True)
    return (h_NxW - mean) * jax.lax.rsqrt(var + _LN_EPS) * p["scale"] + p["bias"]


def _norm(blk: dict, name: str, h: jax.Array) -> jax.Array:
    """Pre-LN when the block has LayerNorm parameters, else the identity."""
    return _layernorm(blk[name], h) if name in blk else h


def _matmul(einsum: Callable, h_BxTxW: jax.Array, w_WxK: jax.Array) -> jax.Array:
    """(..., T, W) @ (W, K) as one 2-D (rows, W) x (W, K) matmul."""
    rows_NxW = h_BxTxW.reshape(-1, h_BxTxW.shape[-1])
    return einsum("nw,wk->nk", rows_NxW, w_WxK).reshape(*h_BxTxW.shape[:-1], w_WxK.shape[-1])


def _qkv(attn: dict, a_BxKxW: jax.Array, n_queries: int, einsum: Callable):
    """Queries of the last `n_queries` positions, keys and values of all K: one fused matmul when
    every position is a query, else (K, V) fused and Q on the queries alone."""
    width = a_BxKxW.shape[-1]
    wq, wk, wv = (attn[n].reshape(width, width) for n in ("wq", "wk", "wv"))
    if n_queries == a_BxKxW.shape[-2]:
        return jnp.split(_matmul(einsum, a_BxKxW, jnp.concatenate([wq, wk, wv], 1)), 3, axis=-1)
    k, v = jnp.split(_matmul(einsum, a_BxKxW, jnp.concatenate([wk, wv], 1)), 2, axis=-1)
    return _matmul(einsum, a_BxKxW[..., -n_queries:, :], wq), k, v


def _attend(q_BxQxW: jax.Array, k_BxKxW: jax.Array, v_BxKxW: jax.Array, heads: int,
            allowed_QxK: jax.Array, einsum: Callable) -> jax.Array:
    """Multi-head scaled dot-product attention of Q query positions over K key positions.

    With a bfloat16 `einsum` the scores come out float32, so the softmax is float32."""
    *lead, n_q, width = q_BxQxW.shape
    n_k, head_dim = k_BxKxW.shape[-2], width // heads
    q_BxQxHxD = q_BxQxW.reshape(*lead, n_q, heads, head_dim)
    k_BxKxHxD = k_BxKxW.reshape(*lead, n_k, heads, head_dim)
    v_BxKxHxD = v_BxKxW.reshape(*lead, n_k, heads, head_dim)
    s_BxHxQxK = einsum("bqhd,bkhd->bhqk", q_BxQxHxD, k_BxKxHxD) / jnp.sqrt(head_dim)
    # finfo.min rather than -inf: no NaNs even if a row were fully masked.
    s_BxHxQxK = jnp.where(allowed_QxK, s_BxHxQxK, jnp.finfo(s_BxHxQxK.dtype).min)
    a_BxHxQxK = jax.nn.softmax(s_BxHxQxK, axis=-1)
    return einsum("bhqk,bkhd->bqhd", a_BxHxQxK, v_BxKxHxD).reshape(*lead, n_q, width)


def _block(blk: dict, h_BxQxW: jax.Array, q_BxQxW: jax.Array, k_BxKxW: jax.Array, v_BxKxW: jax.Array,
           allowed_QxK: jax.Array, layer: int, *, heads: int, act: Callable, drop: DropoutFn,
           einsum: Callable) -> jax.Array:
    """One pre-LN block's residual update of the query positions, given their queries and the keys
    and values of the positions they attend to."""
    width = h_BxQxW.shape[-1]
    o_BxQxW = _attend(q_BxQxW, k_BxKxW, v_BxKxW, heads, allowed_QxK, einsum)
    h_BxQxW = h_BxQxW + drop(_matmul(einsum, o_BxQxW, blk["attn"]["wo"].reshape(width, width)), layer, 0)
    mlp = blk["mlp"]
    u_BxQxM = act(_matmul(einsum, _norm(blk, "ln2", h_BxQxW), mlp["w_in"]) + mlp["b_in"])
    return h_BxQxW + drop(_matmul(einsum, u_BxQxM, mlp["w_out"]) + mlp["b_out"], layer, 1)


def _block_names(params: dict) -> list[str]:
    return sorted((k for k in params if k.startswith("block_")), key=lambda k: int(k[6:]))


def _allowed(causal: bool) -> jax.Array:
    """(T, T) attention mask: query i may attend to key j."""
    full = jnp.ones((SEQ_LEN, SEQ_LEN), dtype=bool)
    return jnp.tril(full) if causal else full


def _answer_state_per_example(params: dict, tokens_BxT: jax.Array, *, causal: bool, **kw) -> jax.Array:
    """The answer position's final residual (B, W), every example through every layer (the last
    layer at the answer position only): the path for dropout and for bidirectional attention."""
    allowed_TxT = _allowed(causal)
    h_BxTxW = params["embed"]["tokens"][tokens_BxT] + params["embed"]["positions"][:SEQ_LEN]
    names = _block_names(params)
    for i, name in enumerate(names):
        blk = params[name]
        n_q = 1 if i == len(names) - 1 else SEQ_LEN
        q, k, v = _qkv(blk["attn"], _norm(blk, "ln1", h_BxTxW), n_q, kw["einsum"])
        h_BxTxW = _block(blk, h_BxTxW[:, -n_q:], q, k, v, allowed_TxT[-n_q:], i, **kw)
    return h_BxTxW[:, -1]


def _answer_state_causal(params: dict, x_B: jax.Array, y_B: jax.Array, n_elements: int, **kw) -> jax.Array:
    """The answer position's final residual (B, W) under the causal mask: the prefix positions
    (x, OP) once per table element, gathered by x; y and EQ per example."""
    tokens, positions = params["embed"]["tokens"], params["embed"]["positions"]
    allowed_TxT = _allowed(True)
    # Prefix table, (n_elements, 2, W): row e is [e, OP]; suffix, (B, 2, W): [y, EQ].
    prefix_ExPxW = jnp.stack([tokens[:n_elements], jnp.broadcast_to(tokens[n_elements], tokens[:n_elements].shape)],
                             axis=1) + positions[:PREFIX_LEN]
    suffix_BxSxW = jnp.stack([tokens[y_B], jnp.broadcast_to(tokens[n_elements + 1], (x_B.shape[0], tokens.shape[-1]))],
                             axis=1) + positions[PREFIX_LEN:SEQ_LEN]
    names = _block_names(params)
    einsum = kw["einsum"]
    for i, name in enumerate(names):
        blk = params[name]
        last = i == len(names) - 1
        a_prefix, a_suffix = _norm(blk, "ln1", prefix_ExPxW), _norm(blk, "ln1", suffix_BxSxW)
        q_p, k_p, v_p = _qkv(blk["attn"], a_prefix, PREFIX_LEN, einsum)  # (the last layer's q_p is unused)
        n_q = 1 if last else SEQ_LEN - PREFIX_LEN
        q_s, k_s, v_s = _qkv(blk["attn"], a_suffix, n_q, einsum)
        k_BxTxW = jnp.concatenate([k_p[x_B], k_s], axis=1)
        v_BxTxW = jnp.concatenate([v_p[x_B], v_s], axis=1)
        suffix_BxSxW = _block(blk, suffix_BxSxW[:, -n_q:], q_s, k_BxTxW, v_BxTxW, allowed_TxT[-n_q:], i, **kw)
        if not last:
            prefix_ExPxW = _block(blk, prefix_ExPxW, q_p, k_p, v_p, allowed_TxT[:PREFIX_LEN, :PREFIX_LEN], i, **kw)
    return suffix_BxSxW[:, -1]


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
        x, y = jnp.asarray(inputs_Bx2[:, 0], jnp.int32), jnp.asarray(inputs_Bx2[:, 1], jnp.int32)
        kw = {"heads": heads, "act": _ACTIVATIONS[activation], "einsum": einsum, "drop": _no_dropout}
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
                keep = keep_SxBxTxW[2 * layer + sub, :, SEQ_LEN - h.shape[-2]:]
                return jnp.where(keep, h / (1.0 - rate), 0.0)
            kw["drop"] = dropout
        if causal and kw["drop"] is _no_dropout:
            h_BxW = _answer_state_causal(params, x, y, n_elements, **kw)
        else:
            h_BxW = _answer_state_per_example(params, make_tokens(x, y, n_elements), causal=causal, **kw)
        if "ln_final" in params:
            h_BxW = _layernorm(params["ln_final"], h_BxW)
        logits_BxN = einsum("bw,wn->bn", h_BxW, unembedding(params))
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
