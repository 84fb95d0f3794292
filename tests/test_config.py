"""grokjax.config: each static choice is declared once, and validation, flag help and docs read it."""
import os

import pytest

from grokjax import config
from grokjax.config import ConfigError, StaticConfig, choices, docs_tables, setting_help, validate_static

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_docs_engine_holds_the_generated_tables():
    with open(os.path.join(REPO, "docs", "engine.md")) as f:
        page = f.read()
    assert docs_tables() in page, "docs/engine.md is stale: paste the output of `python -m grokjax.config`"


def test_registries_are_the_allowed_values():
    from grokjax.models import MODELS
    from grokjax.models.base import MATMUL_DTYPES
    from grokjax.train.losses import LOSSES
    assert choices("model") == tuple(MODELS) and choices("loss") == tuple(LOSSES)
    assert choices("matmul_dtype") == tuple(MATMUL_DTYPES)
    assert choices("width") is None
    assert setting_help("model").endswith(": mlp | transformer")


def test_every_choice_is_validated_from_its_declaration(monkeypatch):
    for field in config.static_fields():
        allowed = choices(field.name)
        if allowed:
            with pytest.raises(ConfigError, match=f"--{field.name}=nope is not allowed; choose one of: "):
                validate_static(StaticConfig(**{field.name: "nope"}))
    # A new model registered in MODELS is at once an allowed value.
    from grokjax import models
    monkeypatch.setitem(models.MODELS, "toy", models.MODELS["mlp"])
    validate_static(StaticConfig(model="toy", width=8, p=7))


def test_internal_fields_are_not_flags():
    names = {f.name for f in config.static_fields()}
    assert "enable_dropout" not in names and "model" in names
    assert {f.name for f in config.static_fields(internal=True)} - names == {
        "enable_dropout", "enable_grad_noise", "enable_weight_noise", "enable_grokfast", "enable_orthograd"}
