"""The Power et al. transformer's forward pass as it was before its optimization (grokjax 0.1,
every position through every layer with 4-D einsums), kept as the reference the optimized
`grokjax.models.transformer` is tested against: same parameters, same logits.
"""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from grokjax.models.transformer import make_tokens, unembedding

_LN_EPS = 1e-5
_ACTIVATIONS = {"relu": jax.nn.relu, "gelu": jax.nn.gelu}
DropoutFn = Callable[[jax.Array, int, int], jax.Array]


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


def reference_logits(params: dict, inputs_Bx2: jax.Array, n_elements: int, *, activation: str = "relu",
                     causal: bool = True, dropout: DropoutFn | None = None) -> jax.Array:
    """Logits (B, n_elements) at the answer position, every position computed through every layer."""
    tokens = make_tokens(inputs_Bx2[:, 0], inputs_Bx2[:, 1], n_elements)
    h_BxTxW = _hidden_states(params, tokens, activation=activation, dropout=dropout, causal=causal)
    return jnp.einsum("bw,wn->bn", h_BxTxW[:, -1], unembedding(params))
