"""Gradient interventions from the grokking literature, each one optax GradientTransformation.

They act on the loss gradient, before the optimizer (grokjax.optim.chains puts them first).
Their strengths may be traced arrays, so a vmapped sweep gives every run its own value,
and a strength of 0 leaves the gradient as it is: a baseline shares the sweep.

* Grokfast (Lee et al. 2024, "Grokfast: Accelerated Grokking by Amplifying Slow Gradients"):
  g + lambda * h, where h is a low-pass filter of the gradients so far: an exponential moving
  average (EMA) or the mean of the last w gradients (MA).
* OrthoGrad / ⊥Grad (Prieto et al. 2025, "Grokking at the Edge of Numerical Stability"): per
  parameter, the gradient's component along the weights removed and the rest rescaled to the
  gradient's original norm, so the optimizer cannot grow the weights along their own direction.
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


class GrokfastEmaState(NamedTuple):
    ema: optax.Updates
    count: jax.Array  # () int32, gradients seen


def grokfast_ema(lam: jax.Array, alpha: jax.Array) -> optax.GradientTransformation:
    """g + lam * h with h <- alpha h + (1 - alpha) g, h starting at the first gradient.

    As the paper's gradfilter_ema: the average starts from the first gradient (not from zero),
    and the amplified gradient is what the optimizer sees.
    """

    def init_fn(params):
        return GrokfastEmaState(ema=jax.tree.map(jnp.zeros_like, params), count=jnp.zeros((), jnp.int32))

    def update_fn(updates, state, params=None):
        del params
        first = state.count == 0
        ema = jax.tree.map(lambda h, g: jnp.where(first, g, alpha * h + (1 - alpha) * g), state.ema, updates)
        filtered = jax.tree.map(lambda g, h: g + lam * h, updates, ema)
        return filtered, GrokfastEmaState(ema=ema, count=state.count + 1)

    return optax.GradientTransformation(init_fn, update_fn)


class GrokfastMaState(NamedTuple):
    window: optax.Updates  # every leaf (w, *shape): the last w gradients, a ring buffer
    count: jax.Array  # () int32, gradients seen


def grokfast_ma(lam: jax.Array, window: int) -> optax.GradientTransformation:
    """g + lam * mean(last `window` gradients, this one included), once `window` gradients were seen.

    As the paper's gradfilter_ma with warmup: before the window is full the gradient passes
    unchanged. `window` is static (it sets the state's shape); the state holds `window` copies
    of the parameters.
    """
    if window <= 0:
        raise ValueError(f"grokfast_ma needs a window >= 1, got {window}")

    def init_fn(params):
        return GrokfastMaState(window=jax.tree.map(lambda p: jnp.zeros((window, *p.shape), p.dtype), params),
                               count=jnp.zeros((), jnp.int32))

    def update_fn(updates, state, params=None):
        del params
        slot = state.count % window
        buffer = jax.tree.map(lambda b, g: b.at[slot].set(g), state.window, updates)
        full = state.count + 1 >= window
        filtered = jax.tree.map(lambda g, b: jnp.where(full, g + lam * jnp.mean(b, axis=0), g), updates, buffer)
        return filtered, GrokfastMaState(window=buffer, count=state.count + 1)

    return optax.GradientTransformation(init_fn, update_fn)


def orthogonal_gradient(strength: jax.Array, eps: float = 1e-30) -> optax.GradientTransformation:
    """Per parameter array w with gradient g: g' = g - strength * (<g, w> / <w, w>) w, rescaled to |g|.

    strength = 1 is ⊥Grad (the gradient orthogonal to the weights); 0 leaves g unchanged (the
    rescale is then the identity), so ⊥Grad and plain runs share a traced sweep axis. A zero
    weight array or a zero projected gradient passes g unchanged.
    """

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError("orthogonal_gradient needs params in update()")

        def project(g, w):
            w = w.astype(g.dtype)
            ww = jnp.sum(w * w)
            coef = jnp.where(ww > eps, jnp.sum(g * w) / jnp.maximum(ww, eps), 0.0)
            g_perp = g - strength * coef * w
            g_norm, perp_norm = jnp.linalg.norm(g), jnp.linalg.norm(g_perp)
            return jnp.where(perp_norm > eps, g_perp * (g_norm / jnp.maximum(perp_norm, eps)), g)

        return jax.tree.map(project, updates, params), state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update_fn)
