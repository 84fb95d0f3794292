"""The optimizer of a run, built as one explicit optax chain from its hyperparameters.

Called inside the traced per-run train function, so lr, wd, noise scale and the interventions'
strengths are that run's arrays, not constants baked into the compiled program.
"""
from __future__ import annotations

import inspect

import jax
import optax

from grokjax.config import StaticConfig
from grokjax.errors import ConfigError
from grokjax.optim.names import OWN_OPTIMIZERS, optax_factory, optimizer_names  # noqa: F401 (re-exported)
from grokjax.optim.interventions import grokfast_ema, grokfast_ma, orthogonal_gradient
from grokjax.optim.transforms import (add_decayed_weights_towards_init, add_update_noise,
                                      linear_warmup)
from grokjax.optim.weight_norm import constrain_global_norm

def weight_decay_transform(cfg: StaticConfig, wd: jax.Array) -> optax.GradientTransformation:
    if cfg.decay_to == "init":
        return add_decayed_weights_towards_init(wd)
    return optax.add_decayed_weights(wd)


def interventions(cfg: StaticConfig, hp: dict) -> list[optax.GradientTransformation]:
    """The gradient interventions compiled in (sweep.features_for), in the order they act on the
    loss gradient: Grokfast's filter first, then ⊥Grad, so the optimizer receives a gradient
    orthogonal to the weights even when both are on."""
    parts = []
    if cfg.enable_grokfast:
        parts.append(grokfast_ma(hp["grokfast_lambda"], cfg.grokfast_window) if cfg.grokfast_window > 0
                     else grokfast_ema(hp["grokfast_lambda"], hp["grokfast_alpha"]))
    if cfg.enable_orthograd:
        parts.append(orthogonal_gradient(hp["orthograd"]))
    return parts


def _optax_optimizer(cfg: StaticConfig, hp: dict) -> list[optax.GradientTransformation]:
    """optax's `cfg.optimizer` with the run's lr (and warmup) as its schedule; wd as its own
    weight_decay argument where it has one (decoupled, as each optimizer defines it), else added
    to the gradient first (coupled L2, as --optimizer=adam)."""
    if cfg.enable_grad_noise:
        raise ConfigError(f"--grad_noise is for --optimizer={'/'.join(OWN_OPTIMIZERS)}; "
                          f"--optimizer={cfg.optimizer} takes none")
    factory = optax_factory(cfg.optimizer)
    schedule = linear_warmup(hp["lr"], cfg.warmup_steps)
    if "weight_decay" in inspect.signature(factory).parameters:
        return [factory(learning_rate=schedule, weight_decay=hp["wd"])]
    return [weight_decay_transform(cfg, hp["wd"]), factory(learning_rate=schedule)]


def make_optimizer(cfg: StaticConfig, hp: dict, noise_rng: jax.Array) -> optax.GradientTransformation:
    """[interventions ->] AdamW / Adam / SGD / an optax optimizer, with optional update noise,
    decay target and warmup.

    adamw: decoupled decay, p <- p - lr (adam(g) + noise + wd (p - target)) as PyTorch AdamW.
    adam:  coupled L2 (wd * p added to the gradient), as PyTorch Adam's weight_decay.
    sgd:   plain gradient descent with the decay added to the gradient.
    other: optax's optimizer of that name (_optax_optimizer).
    """
    parts = interventions(cfg, hp)
    if cfg.optimizer not in OWN_OPTIMIZERS:
        parts += _optax_optimizer(cfg, hp)
    else:
        decay = weight_decay_transform(cfg, hp["wd"])
        if cfg.optimizer in ("adam", "sgd"):
            parts.append(decay)
        if cfg.optimizer in ("adam", "adamw"):
            parts.append(optax.scale_by_adam(b1=cfg.beta1, b2=cfg.beta2, eps=cfg.adam_eps))
        if cfg.enable_grad_noise:
            parts.append(add_update_noise(hp["grad_noise"], noise_rng))
        if cfg.optimizer == "adamw":
            parts.append(decay)
        parts.append(optax.scale_by_learning_rate(linear_warmup(hp["lr"], cfg.warmup_steps)))
    if cfg.constrain_norm:  # last: it turns the finished update into a move on the norm sphere
        parts.append(constrain_global_norm())
    return optax.chain(*parts)
