"""Run configuration: static structure vs traced per-run hyperparameters.

A sweep is ``StaticConfig`` (anything that changes shapes or the compiled program)
times a grid of traced hyperparameters (one value per run, vmapped). See DESIGN.md.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Callable, NamedTuple

import numpy as np

from grokjax.errors import ConfigError, check_allowed


def _setting(default, meaning: str, choices=None, internal: bool = False):
    """A StaticConfig field with its one declaration: the flag help, the allowed values (a tuple, or a
    function returning the names of a registry, e.g. the models) and the docs table all read it."""
    metadata = {"help": meaning, "internal": internal}
    if choices is not None:
        metadata["choices"] = choices
    return dataclasses.field(default=default, metadata=metadata)


def _model_names() -> tuple[str, ...]:
    from grokjax.models import MODELS  # local: the models import jax
    return tuple(MODELS)


def _matmul_dtypes() -> tuple[str, ...]:
    from grokjax.models.base import MATMUL_DTYPES
    return tuple(MATMUL_DTYPES)


def _mlp_inits() -> tuple[str, ...]:
    from grokjax.models.mlp import INITS
    return INITS


def _optimizer_names() -> tuple[str, ...]:
    from grokjax.optim.names import optimizer_names
    return optimizer_names()


def _loss_names() -> tuple[str, ...]:
    from grokjax.train.losses import LOSSES
    return tuple(LOSSES)


@dataclasses.dataclass(frozen=True)
class StaticConfig:
    """Everything that is compiled into the program (shapes, loss, optimizer kind, steps)."""

    # Task.
    op: str = _setting("add", "binary operation (grokjax.data.operations.operation_names())")
    p: int = _setting(97, "modulus (ignored by the S5 operations)")
    # Model.
    model: str = _setting("mlp", "network (grokjax.models.MODELS)", _model_names)
    width: int = _setting(500, "hidden width (MLP N, or transformer d_model)")
    depth: int = _setting(1, "MLP hidden layers (1 = Doshi et al. eq. 1) or transformer layers")
    heads: int = _setting(4, "transformer attention heads")
    mlp_width: int = _setting(0, "transformer feed-forward width (0 = 4 * width)")
    causal: bool = _setting(True, "transformer causal attention mask (--nocausal: encoder-only, every position "
                                  "attends to all; Doshi et al. Figures 7, 12)")
    tie_embeddings: bool = _setting(False, "transformer unembedding = number-token embedding transposed "
                                           "(one shared parameter; Doshi et al. Figure 12)")
    activation: str = _setting("quadratic", "hidden activation (quadratic: the MLP only)",
                               ("quadratic", "relu", "gelu"))
    norm: str = _setting("none", "normalization layers (batchnorm: the MLP only)", ("none", "batchnorm", "layernorm"))
    init: str = _setting("doshi", "MLP weights: doshi N(0, (16N)^(-2/3)), standard N(0, 2/fan_in), "
                                  "lazy N(0, 2/N^(2/3)) (Doshi et al. App. A, G.3; models/mlp.py)",
                         _mlp_inits)
    # Loss and optimizer.
    loss: str = _setting("mse", "loss (grokjax.train.losses.LOSSES)", _loss_names)
    optimizer: str = _setting("adamw", "optimizer: adamw, adam, sgd as PyTorch's (Adam betas below), or the optax "
                                       "optimizer of that name with its defaults, lr and wd per run "
                                       "(grokjax/optim/chains.py)", _optimizer_names)
    beta1: float = _setting(0.9, "Adam beta1")
    beta2: float = _setting(0.98, "Adam beta2")
    adam_eps: float = _setting(1e-8, "Adam epsilon")
    decay_to: str = _setting("origin", "weight decay target", ("origin", "init"))
    warmup_steps: int = _setting(0, "linear learning-rate warmup steps")
    batch_size: int = _setting(0, "minibatch size (0 = full batch)")
    batch_rule: str = _setting("fixed", "active minibatch slots: fixed = batch_size, power = min(batch_size, "
                                        "n_train // 2) (Power et al. A.1.2)", ("fixed", "power"))
    grokfast_window: int = _setting(0, "Grokfast filter (on when some run has grokfast_lambda > 0): 0 = EMA with "
                                       "grokfast_alpha, w > 0 = mean of the last w gradients (Grokfast-MA)")
    # Schedule.
    steps: int = _setting(2000, "optimization steps per run")
    eval_every: int = _setting(100, "steps between evaluations (the smallest gap for --eval_schedule=log)")
    eval_schedule: str = _setting("linear", "evaluation steps: linear, or log (gaps double every 8 points)",
                                  ("linear", "log"))
    early_stop_val_acc: float = _setting(0.0, "stop a batch once every run reached this val acc (0 = off)")
    regression_tolerance: float = _setting(0.01, "regression: an example is correct if its MSE is below this")
    constrain_norm: bool = _setting(False, "after every step rescale all parameters back to their global L2 norm "
                                           "at init (Omnigrok Sec. 2)")
    measures: str = _setting("", "measures evaluated at every evaluation besides the default metrics, comma-separated: "
                                 "ipr, softmax_collapse, effective_rank, fourier (grokjax.train.measures.MEASURES)")
    # Accumulation, parameters, optimizer state, softmax and losses stay float32 (docs/performance.md).
    matmul_dtype: str = _setting("float32", "precision of the models' matmul operands (float32 accumulation, "
                                            "parameters and losses)", _matmul_dtypes)
    # Randomness compiled in only when some run of the sweep uses it (saves work per step; not flags).
    enable_dropout: bool = _setting(False, "compile dropout in (set from the grid)", internal=True)
    enable_grad_noise: bool = _setting(False, "compile update noise in (set from the grid)", internal=True)
    enable_weight_noise: bool = _setting(False, "compile weight noise in (set from the grid)", internal=True)
    # Gradient interventions, likewise compiled in only when some run of the sweep uses them.
    enable_grokfast: bool = _setting(False, "compile the Grokfast filter in (set from the grid)", internal=True)
    enable_orthograd: bool = _setting(False, "compile ⊥Grad in (set from the grid)", internal=True)


def static_fields(internal: bool = False) -> list[dataclasses.Field]:
    """The StaticConfig fields that are flags (and, with `internal`, those set from the grid)."""
    return [f for f in dataclasses.fields(StaticConfig) if internal or not f.metadata["internal"]]


def choices(name: str) -> tuple[str, ...] | None:
    """The allowed values of static field `name` (None: any value of its type)."""
    allowed = StaticConfig.__dataclass_fields__[name].metadata.get("choices")
    return allowed() if callable(allowed) else allowed


def setting_help(name: str) -> str:
    """The flag help of static field `name`: its meaning, and its allowed values if it has a list."""
    allowed = choices(name)
    meaning = StaticConfig.__dataclass_fields__[name].metadata["help"]
    return f"{meaning}: {' | '.join(allowed)}" if allowed else meaning


class HParamSpec(NamedTuple):
    default: float
    check: Callable[[float], bool]
    allowed: str
    help: str
    integer: bool = False
    # Added after sweeps were saved without it: left out of a checkpoint's fingerprint while every
    # run has the default, so those sweeps stay resumable (grokjax.checkpoint.store.fingerprint).
    added_later: bool = False


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
    "grokfast_lambda": HParamSpec(0.0, lambda v: v >= 0, ">= 0",
                                  "Grokfast amplification: gradient + lambda * filtered gradient (0 = off)",
                                  added_later=True),
    "grokfast_alpha": HParamSpec(0.98, lambda v: 0 <= v < 1, "in [0, 1)",
                                 "Grokfast-EMA momentum of the gradient average", added_later=True),
    "orthograd": HParamSpec(0.0, lambda v: 0 <= v <= 1, "in [0, 1]",
                            "⊥Grad: share of the gradient's component along the weights removed "
                            "(1 = ⊥Grad, 0 = off), norm kept", added_later=True),
}
SEED_KEYS = ("model_seed", "data_seed")

def check_choice(name: str, value: str) -> None:
    """Raises ConfigError (one line) unless `value` is one of the allowed values of static field `name`."""
    check_allowed(name, value, choices(name))


MAX_EVAL_POINTS = 10 ** 6  # per run: the curves of every run stay in host memory
MAX_RUNS = 10 ** 6  # per sweep: the grid, config.json and summary.csv list every run


def validate_static(cfg: StaticConfig) -> None:
    """Raises ConfigError (one line) for a bad static setting."""
    from grokjax.data import operations  # local: keeps config importable without numpy tables

    for field in static_fields():
        if "choices" in field.metadata:
            check_choice(field.name, getattr(cfg, field.name))
    if cfg.op not in operations.OPERATIONS:
        raise ConfigError(f"--op={cfg.op} is unknown; choose one of: {', '.join(operations.operation_names())}")
    if not operations.OPERATIONS[cfg.op].is_group_s5 and cfg.p >= 2:  # before the table is allocated
        from grokjax.train.memory import check_table_fits
        check_table_fits(cfg.p ** 2, cfg.p, f"--p={cfg.p}")
    try:
        operations.make_table(cfg.op, cfg.p)
    except ValueError as err:
        raise ConfigError(f"--p={cfg.p}: {err}") from None
    for name in ("width", "depth", "heads", "steps", "eval_every"):
        if getattr(cfg, name) <= 0:
            raise ConfigError(f"--{name}={getattr(cfg, name)} must be a positive integer")
    for name in ("batch_size", "warmup_steps", "mlp_width", "grokfast_window"):
        if getattr(cfg, name) < 0:
            raise ConfigError(f"--{name}={getattr(cfg, name)} must be an integer >= 0")
    for name in ("width", "depth", "heads", "steps", "eval_every", "batch_size", "warmup_steps", "mlp_width"):
        if getattr(cfg, name) >= 2 ** 31:  # traced as int32 (steps, batch positions) or far past any memory
            raise ConfigError(f"--{name}={getattr(cfg, name)} is too large; it must be below 2^31")
    if cfg.eval_schedule == "linear" and -(-cfg.steps // cfg.eval_every) + 1 > MAX_EVAL_POINTS:
        raise ConfigError(f"--steps={cfg.steps} with --eval_every={cfg.eval_every} gives "
                          f"{-(-cfg.steps // cfg.eval_every) + 1:.3g} evaluation points, "
                          f"more than {MAX_EVAL_POINTS:g}; "
                          "raise --eval_every or pass --eval_schedule=log")
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
    from grokjax.train.measures import parse  # local: measures import jax
    parse(cfg.measures)
    if not 0 <= cfg.early_stop_val_acc <= 1:
        raise ConfigError(f"--early_stop_val_acc={cfg.early_stop_val_acc} must be in [0, 1]")
    for name in ("beta1", "beta2"):  # moment decay rates: >= 1 never forgets (or blows up)
        if not 0 <= getattr(cfg, name) < 1:
            raise ConfigError(f"--{name}={getattr(cfg, name):g} is not allowed; it must be in [0, 1)")


def validate_hparam(name: str, values) -> None:
    """Raises ConfigError if any value of a traced hyperparameter is out of range."""
    if name not in HPARAMS:
        raise ConfigError(f"unknown hyperparameter '{name}'; choose one of: {', '.join(HPARAMS)}")
    spec = HPARAMS[name]
    for v in np.atleast_1d(np.asarray(values, dtype=np.float64)):
        if not math.isfinite(v) or not spec.check(float(v)):
            raise ConfigError(f"--{name}={v:g} is not allowed; {name} must be {spec.allowed}")


def _cell(value) -> str:
    return f"`{value}`" if not isinstance(value, float) else f"`{value:g}`"


def docs_tables() -> str:
    """The static-settings and hyperparameter tables of docs/engine.md, generated from the declarations
    above (tests/test_config.py checks the page holds them): `python -m grokjax.config`."""
    lines = ["| static setting (flag) | default | allowed | meaning |", "| --- | --- | --- | --- |"]
    for field in static_fields():
        allowed = choices(field.name)
        kind = " / ".join(f"`{v}`" for v in allowed) if allowed else type(field.default).__name__
        meaning = field.metadata["help"].replace("|", "/")
        lines.append(f"| `{field.name}` | {_cell(field.default)} | {kind} | {meaning} |")
    lines += ["", "| traced hyperparameter (flag) | default | allowed | meaning |", "| --- | --- | --- | --- |"]
    for name, spec in HPARAMS.items():
        lines.append(f"| `{name}` | {_cell(spec.default)} | {spec.allowed} | {spec.help} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(docs_tables(), end="")
