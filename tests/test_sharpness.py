"""Keskar et al. phi sharpness on functions whose box maximum is known in closed form."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tolerances import f32_rtol

from grokjax.analysis.sharpness import box_radius, phi_sharpness, phi_sharpness_lbfgsb, sweep_sharpness
from grokjax.config import StaticConfig
from grokjax.data.datasets import operation_dataset
from grokjax.train.run import make_run_fns
from grokjax.train.sweep import make_grid, run_sweep

X0 = {"a": jnp.array([1.0, -2.0, 0.5]), "b": {"c": jnp.array([[-0.3, 4.0]])}}
H = {"a": jnp.array([1.0, 3.0, 0.5]), "b": {"c": jnp.array([[2.0, 0.1]])}}


def quadratic(x):
    return 0.5 * sum(jnp.sum(h * v ** 2) for h, v in zip(jax.tree.leaves(H), jax.tree.leaves(x)))


ESTIMATORS = {  # the vmapped sign ascent and Keskar et al.'s L-BFGS-B find the same corner
    "sign_ascent": lambda f, x, eps: phi_sharpness(f, x, epsilon=eps, steps=8),
    "lbfgsb": lambda f, x, eps: phi_sharpness_lbfgsb(f, x, epsilon=eps),
}


@pytest.mark.parametrize("estimator", list(ESTIMATORS))
@pytest.mark.parametrize("eps", [1e-3, 5e-2])
def test_phi_of_a_convex_quadratic_is_its_value_at_the_far_corner(eps, estimator):
    # A convex quadratic centred at 0 is largest in the box at the corner away from 0:
    # y_i = sign(x_i) * eps * (|x_i| + 1). The loss is float32: rel 1e-4.
    r = box_radius(X0, eps)
    corner = jax.tree.map(lambda x, ri: x + jnp.sign(x) * ri, X0, r)
    f0, fmax = quadratic(X0), quadratic(corner)
    expected = 100 * (fmax - f0) / (1 + f0)
    assert ESTIMATORS[estimator](quadratic, X0, eps) == pytest.approx(float(expected), rel=1e-4)


def test_phi_of_a_linear_function_and_of_a_flat_one():
    a = jnp.array([2.0, -1.0, 0.0, 3.0])
    x = jnp.array([0.0, 1.0, -1.0, 2.0])
    f = lambda w: jnp.dot(a, w) + 1.0  # noqa: E731
    eps = 1e-2
    gain = np.sum(np.abs(a) * eps * (np.abs(x) + 1))  # max of a . y over the box
    expected = 100 * gain / (1 + float(f(x)))
    assert phi_sharpness(f, x, epsilon=eps) == pytest.approx(expected, rel=1e-5)
    assert phi_sharpness(lambda w: jnp.zeros(()), x) == 0.0  # a flat loss has phi 0


def test_sharper_minimum_has_larger_phi():
    flat = phi_sharpness(lambda w: 0.5 * jnp.sum(w ** 2), jnp.ones(3) * 0.1)
    sharp = phi_sharpness(lambda w: 50.0 * jnp.sum(w ** 2), jnp.ones(3) * 0.1)
    assert sharp > flat > 0


def test_sweep_sharpness_of_trained_runs_matches_each_run_alone():
    # The tiny config of tests/test_power2022.py (two runs): its compiled program is reused.
    cfg = StaticConfig(op="add", p=7, model="transformer", width=8, heads=2, depth=1, activation="relu",
                       norm="layernorm", loss="ce", optimizer="adamw", batch_size=8, batch_rule="power",
                       steps=4, eval_every=2)
    grid = make_grid({"lr": 3e-3, "frac": 0.5}, seeds=2)
    result = run_sweep(cfg, grid, progress=False)
    dataset = operation_dataset("add", 7)
    data = jax.vmap(make_run_fns(result.cfg, dataset).init)({k: jnp.asarray(v) for k, v in grid.items()}).data
    # steps=4 and two runs: the program tests/test_power2022.py's sharpness figure compiled.
    together = sweep_sharpness(result.cfg, dataset, result.params, data, steps=4)
    alone = sweep_sharpness(result.cfg, dataset, result.params, data, steps=4, max_runs_per_batch=1)
    assert together.shape == (2,) and np.all(together > 0)
    # phi = 100 (L_max - L) / (1 + L): each loss carries float32 reassociation error <= f32_rtol * L
    # (49-row sums, 4 ascent steps), so phi's absolute error is <= 200 f32_rtol L / (1 + L) < 200 f32_rtol.
    np.testing.assert_allclose(together, alone, rtol=0, atol=200 * f32_rtol(49, steps=4))
    # L-BFGS-B, one run at a time, reaches a loss in the same box: positive, same order of magnitude.
    lbfgsb = sweep_sharpness(result.cfg, dataset, result.params, data, steps=4, method="lbfgsb")
    assert lbfgsb.shape == (2,) and np.all(lbfgsb > 0) and np.all(lbfgsb < 10 * together)
