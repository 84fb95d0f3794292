"""Pure init/apply models and the factory that builds one from a StaticConfig."""
from __future__ import annotations

from grokjax.models.base import Model


def make_model(cfg, n_elements: int) -> Model:
    """The model named by cfg.model, sized for a table with n_elements symbols."""
    if cfg.model == "mlp":
        from grokjax.models.mlp import make_mlp
        return make_mlp(n_elements, width=cfg.width, depth=cfg.depth, activation=cfg.activation,
                        norm=cfg.norm, use_dropout=cfg.enable_dropout,
                        matmul_dtype=cfg.matmul_dtype, init=cfg.init)
    if cfg.model == "transformer":
        from grokjax.models.transformer import make_transformer
        return make_transformer(n_elements, width=cfg.width, depth=cfg.depth, heads=cfg.heads,
                                mlp_width=cfg.mlp_width or None,
                                activation=cfg.activation, layernorm=cfg.norm == "layernorm",
                                use_dropout=cfg.enable_dropout, causal=cfg.causal,
                                tie_embeddings=cfg.tie_embeddings, matmul_dtype=cfg.matmul_dtype)
    raise ValueError(f"unknown model {cfg.model!r}")
