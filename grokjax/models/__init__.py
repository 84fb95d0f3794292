"""Pure init/apply models and the registry that builds one from a StaticConfig.

MODELS is the one list of model names: StaticConfig.model's allowed values, its flag help and the
docs table read it (grokjax.config.choices).
"""
from __future__ import annotations

from typing import Callable

from grokjax.models.base import Model


def _mlp(cfg, n_elements: int) -> Model:
    from grokjax.models.mlp import make_mlp
    return make_mlp(n_elements, width=cfg.width, depth=cfg.depth, activation=cfg.activation,
                    norm=cfg.norm, use_dropout=cfg.enable_dropout,
                    matmul_dtype=cfg.matmul_dtype, init=cfg.init)


def _transformer(cfg, n_elements: int) -> Model:
    from grokjax.models.transformer import make_transformer
    return make_transformer(n_elements, width=cfg.width, depth=cfg.depth, heads=cfg.heads,
                            mlp_width=cfg.mlp_width or None,
                            activation=cfg.activation, layernorm=cfg.norm == "layernorm",
                            use_dropout=cfg.enable_dropout, causal=cfg.causal,
                            tie_embeddings=cfg.tie_embeddings, matmul_dtype=cfg.matmul_dtype)


# name -> builder(cfg, n_elements); the models of operation tables (other datasets pass their own Model).
MODELS: dict[str, Callable[..., Model]] = {"mlp": _mlp, "transformer": _transformer}


def make_model(cfg, n_elements: int) -> Model:
    """The model named by cfg.model, sized for a table with n_elements symbols."""
    if cfg.model not in MODELS:
        raise ValueError(f"unknown model {cfg.model!r}; choose one of: {', '.join(MODELS)}")
    return MODELS[cfg.model](cfg, n_elements)
