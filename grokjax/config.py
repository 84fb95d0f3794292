"""Run configuration: static structure vs traced per-run hyperparameters.

A sweep is ``StaticConfig`` (anything that changes shapes or the compiled program)
times a grid of traced hyperparameters (one value per run, vmapped). See DESIGN.md.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Callable, NamedTuple

import numpy as np


class ConfigError(ValueError):
    """A bad setting; its message is one line naming the flag and what is allowed."""


@dataclasses.dataclass(frozen=True)
class StaticConfig:
    """Everything that is compiled into the program (shapes, loss, optimizer kind, steps)."""

    # Task.
    op: str = "add"
    p: int = 97
    # Model.
    model: str = "mlp"  # mlp | transformer
    width: int = 500
    depth: int = 1  # MLP hidden layers (1 = Doshi et al. eq. 1) or transformer layers
    heads: int = 4
    mlp_width: int = 0  # transformer feed-forward width; 0 means 4 * width
    causal: bool = True  # transformer attention mask; False = encoder-only (Doshi et al. Figure 7, 12)
    tie_embeddings: bool = False  # transformer unembedding = number-token embedding transposed (Figure 12)
    activation: str = "quadratic"  # quadratic | relu | gelu
    norm: str = "none"  # none | batchnorm | layernorm
    init: str = "doshi"  # MLP weights: doshi | standard | lazy (Doshi et al. App. A, G.3; models/mlp.py)
    # Loss and optimizer.
    loss: str = "mse"  # mse | ce
    optimizer: str = "adamw"  # adamw | adam | sgd
    beta1: float = 0.9
    beta2: float = 0.98
    adam_eps: float = 1e-8
    decay_to: str = "origin"  # origin | init
    warmup_steps: int = 0
    batch_size: int = 0  # 0 = full batch
    batch_rule: str = "fixed"  # fixed | power (min(batch_size, n_train // 2), Power et al. A.1.2)
    # Schedule.
    steps: int = 2000
    eval_every: int = 100
    eval_schedule: str = "linear"  # linear | log
    early_stop_val_acc: float = 0.0  # stop a batch once every run reached this val acc (0 = off)
    regression_tolerance: float = 0.01  # regression: an example is "correct" if its MSE is below this
    # Omnigrok Sec. 2: after every step rescale all parameters back to their global L2 norm at init.
    constrain_norm: bool = False
    # Precision of the models' matmul operands; accumulation, parameters, optimizer state,
    # softmax and losses stay float32 (docs/performance.md, "Mixed precision").
    matmul_dtype: str = "float32"  # float32 | bfloat16
    # Randomness compiled in only when some run of the sweep uses it (saves work per step).
    enable_dropout: bool = False
    enable_grad_noise: bool = False
    enable_weight_noise: bool = False


class HParamSpec(NamedTuple):
    default: float
    check: Callable[[float], bool]
    allowed: str
    help: str
    integer: bool = False


# Traced per-run hyperparameters; keys are also the flag and summary.csv column names.
HPARAMS: dict[str, HParamSpec] = {
    "lr": HParamSpec(0.01, lambda v: v > 0, "> 0", "learning rate"),
    "wd": HParamSpec(0.0, lambda v: v >= 0, ">= 0", "weight decay (decoupled for adamw)"),
    "alpha": HParamSpec(1.0, lambda v: v > 0, "> 0", "initialization scale (Omnigrok)"),
    "frac": HParamSpec(0.5, lambda v: 0 < v <= 1, "in (0, 1]",
                       "training fraction of the table (of the non-held-out rows, if a test set is fixed)"),
    "xi": HParamSpec(0.0, lambda v: 0 <= v < 1, "in [0, 1)", "label-corruption fraction (Doshi et al.)"),
    "outliers": HParamSpec(0, lambda v: v >= 0 and float(v).is_integer(), "an integer >= 0",
                           "number of outlier training answers (Power et al. A.4)", True),
    "dropout": HParamSpec(0.0, lambda v: 0 <= v < 1, "in [0, 1)", "dropout rate"),
    "grad_noise": HParamSpec(0.0, lambda v: v >= 0, ">= 0",
                             "std of Gaussian noise added to the update direction"),
    "weight_noise": HParamSpec(0.0, lambda v: v >= 0, ">= 0",
                               "std of Gaussian weight noise in the forward pass"),
}
SEED_KEYS = ("model_seed", "data_seed")

_CHOICES = {
    "model": ("mlp", "transformer"),
    "activation": ("quadratic", "relu", "gelu"),
    "norm": ("none", "batchnorm", "layernorm"),
    "init": ("doshi", "standard", "lazy"),  # grokjax.models.mlp.init_stds
    "loss": ("mse", "ce"),
    "optimizer": ("adamw", "adam", "sgd"),
    "decay_to": ("origin", "init"),
    "batch_rule": ("fixed", "power"),
    "eval_schedule": ("linear", "log"),
    "matmul_dtype": ("float32", "bfloat16"),
}


def check_choice(name: str, value: str) -> None:
    """Raises ConfigError (one line) unless `value` is one of the allowed values of static field `name`."""
    allowed = _CHOICES[name]
    if value not in allowed:
        raise ConfigError(f"--{name}={value} is not allowed; choose one of: {', '.join(allowed)}")


def validate_static(cfg: StaticConfig) -> None:
    """Raises ConfigError (one line) for a bad static setting."""
    from grokjax.data import operations  # local: keeps config importable without numpy tables

    for name in _CHOICES:
        check_choice(name, getattr(cfg, name))
    if cfg.op not in operations.OPERATIONS:
        raise ConfigError(f"--op={cfg.op} is unknown; choose one of: {', '.join(operations.operation_names())}")
    try:
        operations.make_table(cfg.op, cfg.p)
    except ValueError as err:
        raise ConfigError(f"--p={cfg.p}: {err}") from None
    for name in ("width", "depth", "heads", "steps", "eval_every"):
        if getattr(cfg, name) <= 0:
            raise ConfigError(f"--{name}={getattr(cfg, name)} must be a positive integer")
    for name in ("batch_size", "warmup_steps", "mlp_width"):
        if getattr(cfg, name) < 0:
            raise ConfigError(f"--{name}={getattr(cfg, name)} must be an integer >= 0")
    if cfg.model == "transformer" and cfg.activation == "quadratic":
        raise ConfigError("--activation=quadratic is for the MLP; the transformer allows: relu, gelu")
    if cfg.model == "transformer" and cfg.norm == "batchnorm":
        raise ConfigError("--norm=batchnorm is for the MLP; the transformer allows: none, layernorm")
    if cfg.model == "transformer" and cfg.init != "doshi":
        raise ConfigError(f"--init={cfg.init} is for the MLP; the transformer keeps its own initialization "
                          "and allows: doshi (the default)")
    if cfg.model != "transformer":
        for name, default in (("causal", True), ("tie_embeddings", False)):
            if getattr(cfg, name) != default:
                raise ConfigError(f"--{name}={getattr(cfg, name)} is for the transformer; "
                                  f"with --model={cfg.model} only --{name}={default} is allowed")
    if cfg.model == "transformer" and cfg.width % cfg.heads:
        raise ConfigError(f"--width={cfg.width} must be divisible by --heads={cfg.heads}")
    if cfg.batch_rule == "power" and cfg.batch_size == 0:
        raise ConfigError("--batch_rule=power needs --batch_size > 0 (Power et al. use 512)")
    if not 0 <= cfg.early_stop_val_acc <= 1:
        raise ConfigError(f"--early_stop_val_acc={cfg.early_stop_val_acc} must be in [0, 1]")


def validate_hparam(name: str, values) -> None:
    """Raises ConfigError if any value of a traced hyperparameter is out of range."""
    if name not in HPARAMS:
        raise ConfigError(f"unknown hyperparameter '{name}'; choose one of: {', '.join(HPARAMS)}")
    spec = HPARAMS[name]
    for v in np.atleast_1d(np.asarray(values, dtype=np.float64)):
        if not math.isfinite(v) or not spec.check(float(v)):
            raise ConfigError(f"--{name}={v:g} is not allowed; {name} must be {spec.allowed}")
