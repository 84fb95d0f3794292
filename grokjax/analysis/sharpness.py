"""Keskar et al. (2016) sharpness phi, as Power et al. (2022) A.5 use it.

    phi_{x,f}(eps) = 100 * (max_{y in C_eps} f(x + y) - f(x)) / (1 + f(x))
    C_eps = { y : |y_i| <= eps * (|x_i| + 1) }          (A = I_n: the full parameter space)

Keskar et al. solve the inner maximization with a few L-BFGS-B iterations on the box
(`phi_sharpness_lbfgsb`, scipy, one run at a time). The default here is projected
sign-gradient ascent on the box (the L-inf analogue of PGD, `phi_sharpness`), which stays a
pure JAX function and so can be vmapped over every trained run of a sweep. Both keep the
largest loss they reach, so phi is a lower bound on the true maximum for either.
"""
from __future__ import annotations

from typing import Callable

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np

from grokjax.config import StaticConfig
from grokjax.data.datasets import Dataset
from grokjax.data.splits import RunData
from grokjax.models import make_model
from grokjax.train.losses import LOSSES

KESKAR_EPSILON = 1e-3  # Keskar et al. report eps = 1e-3 and 5e-4


def box_radius(params, epsilon: float | jax.Array):
    """Per-coordinate half-width of C_eps: eps * (|x_i| + 1)."""
    return jax.tree.map(lambda x: epsilon * (jnp.abs(x) + 1.0), params)


def phi_sharpness(loss_fn: Callable, params, *, epsilon: float | jax.Array = KESKAR_EPSILON, steps: int = 20,
                  step_size: float = 0.25) -> jax.Array:
    """phi of `loss_fn` (params -> scalar) at `params`.

    Each step moves every coordinate by step_size * radius in the direction of its
    gradient's sign and clips back into the box, starting from the box's centre.
    A loss that grows monotonically in each coordinate reaches the maximizing corner
    in ceil(1 / step_size) steps.
    """
    radius = box_radius(params, epsilon)
    f0 = loss_fn(params)

    def perturbed(y):
        return loss_fn(jax.tree.map(jnp.add, params, y))

    def ascend(carry, _):
        y, best = carry
        value, grad = jax.value_and_grad(perturbed)(y)
        y = jax.tree.map(lambda yi, gi, ri: jnp.clip(yi + step_size * ri * jnp.sign(gi), -ri, ri), y, grad, radius)
        return (y, jnp.maximum(best, value)), None

    y0 = jax.tree.map(jnp.zeros_like, params)
    (y, best), _ = jax.lax.scan(ascend, (y0, f0), None, length=steps)
    best = jnp.maximum(best, perturbed(y))
    return 100.0 * (best - f0) / (1.0 + f0)


def _phi_lbfgsb(value_and_grad: Callable, flat: np.ndarray, f0: float, epsilon: float, max_iterations: int) -> float:
    """phi from L-BFGS-B on -loss over the box around `flat` (host-side scipy: float64 box
    arithmetic, float32 loss and gradient from `value_and_grad(y_flat)`), from the box's centre."""
    from scipy.optimize import minimize

    radius = np.asarray(epsilon * (np.abs(np.asarray(flat)) + 1.0), np.float64)
    best = [f0]

    def negative(y):
        value, grad = value_and_grad(jnp.asarray(y, jnp.float32))
        best[0] = max(best[0], float(value))
        return -float(value), -np.asarray(grad, np.float64)

    minimize(negative, np.zeros_like(radius), jac=True, method="L-BFGS-B",
             bounds=list(zip(-radius, radius)), options={"maxiter": max_iterations})
    return 100.0 * (best[0] - f0) / (1.0 + f0)


def phi_sharpness_lbfgsb(loss_fn: Callable, params, *, epsilon: float = KESKAR_EPSILON,
                         max_iterations: int = 10) -> float:
    """phi of `loss_fn` at `params` with Keskar et al.'s maximizer: `max_iterations` L-BFGS-B
    iterations on -loss over the box C_eps."""
    flat, unravel = jax.flatten_util.ravel_pytree(params)
    value_and_grad = jax.jit(jax.value_and_grad(lambda y: loss_fn(unravel(flat + y))))
    return _phi_lbfgsb(value_and_grad, flat, float(loss_fn(params)), epsilon, max_iterations)


def make_train_loss(cfg: StaticConfig, dataset: Dataset) -> Callable:
    """(params, data: RunData) -> mean training loss of one run on its (possibly noisy) labels.

    Evaluated in eval mode (no dropout or weight noise). Models with state
    (BatchNorm) would need their running statistics, which sweeps do not keep.
    """
    model = make_model(cfg, dataset.n_classes)
    _, model_state = model.init(jax.random.key(0))
    if jax.tree.leaves(model_state):
        raise ValueError("phi sharpness needs a model without state (no batchnorm)")
    inputs = jax.tree.map(jnp.asarray, dataset.inputs)
    loss_fn = LOSSES[cfg.loss]

    def train_loss(params, data: RunData) -> jax.Array:
        outputs, _ = model.apply(params, model_state, inputs, train=False)
        mask = data.train_mask.astype(jnp.float32)
        return jnp.sum(mask * loss_fn(outputs, data.labels)) / jnp.sum(mask)

    return train_loss


METHODS = ("sign_ascent", "lbfgsb")


def sweep_sharpness(cfg: StaticConfig, dataset: Dataset, params_G, data_G: RunData, *,
                    epsilon: float = KESKAR_EPSILON, steps: int = 20, step_size: float = 0.25,
                    max_runs_per_batch: int = 16, method: str = "sign_ascent") -> np.ndarray:
    """phi of every run of a sweep: params and RunData with a leading run axis G -> (G,).
    `method`: "sign_ascent" (vmapped, `steps` ascent steps) or "lbfgsb" (Keskar et al.'s, one run
    at a time, `steps` L-BFGS-B iterations)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    train_loss = make_train_loss(cfg, dataset)
    if method == "lbfgsb":  # one run at a time, through one compiled loss and gradient
        take = lambda tree, i: jax.tree.map(lambda a: jnp.asarray(a[i]), tree)  # noqa: E731
        unravel = jax.flatten_util.ravel_pytree(take(params_G, 0))[1]
        loss_at = jax.jit(lambda flat, data: train_loss(unravel(flat), data))
        value_and_grad = jax.jit(jax.value_and_grad(lambda y, flat, data: loss_at(flat + y, data)))
        phis = []
        for i in range(len(jax.tree.leaves(data_G)[0])):
            flat, data = jax.flatten_util.ravel_pytree(take(params_G, i))[0], take(data_G, i)
            phis.append(_phi_lbfgsb(lambda y: value_and_grad(y, flat, data), flat, float(loss_at(flat, data)),
                                    epsilon, steps))
        return np.asarray(phis)

    def one(params, data):
        return phi_sharpness(lambda w: train_loss(w, data), params, epsilon=epsilon, steps=steps,
                             step_size=step_size)

    fn = jax.jit(jax.vmap(one))
    n = len(jax.tree.leaves(data_G)[0])
    out = []
    for start in range(0, n, max_runs_per_batch):
        take = lambda a: jnp.asarray(a[start:start + max_runs_per_batch])  # noqa: E731
        out.append(np.asarray(fn(jax.tree.map(take, params_G), jax.tree.map(take, data_G))))
    return np.concatenate(out)
