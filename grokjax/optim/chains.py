"""The optimizer of a run, built as one explicit optax chain from its hyperparameters.

Called inside the traced per-run train function, so lr, wd and noise scale are
that run's arrays, not constants baked into the compiled program.
"""
from __future__ import annotations

import jax
import optax

from grokjax.config import StaticConfig
from grokjax.optim.transforms import (add_decayed_weights_towards_init, add_update_noise,
                                      linear_warmup)
from grokjax.optim.weight_norm import constrain_global_norm


def weight_decay_transform(cfg: StaticConfig, wd: jax.Array) -> optax.GradientTransformation:
    if cfg.decay_to == "init":
        return add_decayed_weights_towards_init(wd)
    return optax.add_decayed_weights(wd)


def make_optimizer(cfg: StaticConfig, hp: dict, noise_rng: jax.Array) -> optax.GradientTransformation:
    """AdamW / Adam / SGD with optional update noise, decay target and warmup.

    adamw: decoupled decay, p <- p - lr (adam(g) + noise + wd (p - target)) as PyTorch AdamW.
    adam:  coupled L2 (wd * p added to the gradient), as PyTorch Adam's weight_decay.
    sgd:   plain gradient descent with the decay added to the gradient.
    """
    decay = weight_decay_transform(cfg, hp["wd"])
    parts = []
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
