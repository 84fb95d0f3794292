"""Grokking interventions: Grokfast EMA/MA, ⊥Grad, StableMax CE and optax optimizers by name,
each against a hand computation, and swept in one call equal to the same runs trained alone."""
import dataclasses

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import optax.contrib
import pytest

from grokjax.checkpoint.identity import differences
from grokjax.checkpoint.store import fingerprint
from grokjax.config import HPARAMS, ConfigError, StaticConfig
from grokjax.optim.chains import make_optimizer, optimizer_names
from grokjax.optim.interventions import grokfast_ema, grokfast_ma, orthogonal_gradient
from grokjax.train.losses import stablemax, stablemax_cross_entropy
from grokjax.train.sweep import features_for, make_grid, run_sweep
from tolerances import TINY_K, TINY_STEPS, assert_f32_close

HP = {"lr": jnp.float32(0.01), "wd": jnp.float32(0.5), "grad_noise": jnp.float32(0.0),
      **{k: jnp.float32(HPARAMS[k].default) for k in ("grokfast_lambda", "grokfast_alpha", "orthograd")}}
PARAMS = {"a": jnp.array([1.0, -2.0, 3.0]), "b": {"c": jnp.array([[0.5, -0.5]])}}


def feed(tx, grads_seq, params=PARAMS):
    state, out = tx.init(params), []
    for g in grads_seq:
        u, state = tx.update(g, state, params)
        out.append(u)
    return out


def test_grokfast_ema_by_hand():
    g1, g2, g3 = np.array([1.0, 0.0]), np.array([0.0, 2.0]), np.array([-1.0, 1.0])
    lam, alpha = 3.0, 0.5
    out = feed(grokfast_ema(jnp.float32(lam), jnp.float32(alpha)), [{"w": jnp.asarray(g)} for g in (g1, g2, g3)],
               {"w": jnp.zeros(2)})
    h1 = g1  # the average starts at the first gradient
    h2 = 0.5 * h1 + 0.5 * g2
    h3 = 0.5 * h2 + 0.5 * g3
    for u, g, h in zip(out, (g1, g2, g3), (h1, h2, h3)):
        np.testing.assert_allclose(u["w"], g + lam * h, rtol=1e-6)


def test_grokfast_ma_by_hand():
    gs = [np.array([1.0]), np.array([3.0]), np.array([5.0]), np.array([-4.0])]
    out = feed(grokfast_ma(jnp.float32(2.0), 3), [{"w": jnp.asarray(g)} for g in gs], {"w": jnp.zeros(1)})
    want = [1.0, 3.0,  # the window is not full yet: unchanged
            5.0 + 2.0 * (1 + 3 + 5) / 3, -4.0 + 2.0 * (3 + 5 - 4) / 3]  # the oldest gradient left the window
    np.testing.assert_allclose([float(u["w"][0]) for u in out], want, rtol=1e-6)


def test_orthograd_by_hand():
    w, g = np.array([3.0, 4.0]), np.array([2.0, 1.0])
    (u,) = feed(orthogonal_gradient(jnp.float32(1.0)), [{"w": jnp.asarray(g)}], {"w": jnp.asarray(w)})
    perp = g - (g @ w) / (w @ w) * w  # (2, 1) - 0.4 (3, 4) = (0.8, -0.6)
    want = perp * np.linalg.norm(g) / np.linalg.norm(perp)
    np.testing.assert_allclose(u["w"], want, rtol=1e-6)
    assert abs(float(u["w"] @ w)) < 1e-6 and np.isclose(np.linalg.norm(u["w"]), np.linalg.norm(g))


def test_orthograd_per_parameter_and_off_at_strength_zero():
    grads = jax.tree.map(lambda p: 0.1 * p + 0.3, PARAMS)
    (u,) = feed(orthogonal_gradient(jnp.float32(1.0)), [grads])
    for ul, wl, gl in zip(jax.tree.leaves(u), jax.tree.leaves(PARAMS), jax.tree.leaves(grads)):
        assert abs(float(jnp.sum(ul * wl))) < 1e-5  # each array orthogonal to its own weights
        np.testing.assert_allclose(jnp.linalg.norm(ul), jnp.linalg.norm(gl), rtol=1e-6)
    (same,) = feed(orthogonal_gradient(jnp.float32(0.0)), [grads])
    chex.assert_trees_all_equal(same, grads)
    zero_w = {"w": jnp.zeros(3)}  # no direction to remove: the gradient passes
    (u0,) = feed(orthogonal_gradient(jnp.float32(1.0)), [{"w": jnp.ones(3)}], zero_w)
    np.testing.assert_array_equal(u0["w"], np.ones(3))


def test_stablemax_and_its_cross_entropy_by_hand():
    x = jnp.array([[2.0, 0.0, -1.0, -3.0]])
    s = np.array([3.0, 1.0, 1 / 2, 1 / 4])
    np.testing.assert_allclose(stablemax(x)[0], s, rtol=1e-6)
    loss = stablemax_cross_entropy(x, jnp.array([2]))
    np.testing.assert_allclose(loss, [-np.log(s[2] / s.sum())], rtol=1e-6)
    # Gradients stay finite where softmax's would saturate (and at the branch point 0).
    big = jnp.array([[1e4, -1e4, 0.0]])
    grad = jax.grad(lambda z: stablemax_cross_entropy(z, jnp.array([0])).sum())(big)
    assert np.all(np.isfinite(grad))


def run_updates(opt, steps=4):
    params, state = PARAMS, opt.init(PARAMS)
    for _ in range(steps):
        grads = jax.tree.map(lambda p: 0.1 * p + 0.3 + jnp.sin(p), params)
        updates, state = opt.update(grads, state, params)
        params = optax.apply_updates(params, updates)
    return params


def test_interventions_act_before_the_optimizer():
    cfg = dataclasses.replace(StaticConfig(optimizer="adamw"), enable_grokfast=True, enable_orthograd=True)
    hp = {**HP, "grokfast_lambda": jnp.float32(2.0), "grokfast_alpha": jnp.float32(0.9),
          "orthograd": jnp.float32(1.0)}
    ours = run_updates(make_optimizer(cfg, hp, jax.random.key(0)))
    reference = run_updates(optax.chain(grokfast_ema(2.0, 0.9), orthogonal_gradient(1.0),
                                        optax.adamw(0.01, b1=0.9, b2=0.98, eps=1e-8, weight_decay=0.5)))
    chex.assert_trees_all_close(ours, reference, rtol=1e-6)


@pytest.mark.parametrize("name,reference", [
    ("lion", lambda: optax.lion(0.01, weight_decay=0.5)),
    ("muon", lambda: optax.contrib.muon(0.01, weight_decay=0.5)),
    ("rmsprop", lambda: optax.chain(optax.add_decayed_weights(0.5), optax.rmsprop(0.01))),  # no own wd: L2
])
def test_optax_optimizer_by_name_with_traced_lr_and_wd(name, reference):
    assert name in optimizer_names()
    ours = run_updates(make_optimizer(StaticConfig(optimizer=name), HP, jax.random.key(0)))
    chex.assert_trees_all_close(ours, run_updates(reference()), rtol=1e-5, atol=1e-7)


def test_interventions_are_compiled_in_only_when_a_run_uses_them(tiny_cfg):
    plain = features_for(tiny_cfg, make_grid({}))
    assert not plain.enable_grokfast and not plain.enable_orthograd
    used = features_for(tiny_cfg, make_grid({}, [("grokfast_lambda", [0, 1]), ("orthograd", [0, 1])]))
    assert used.enable_grokfast and used.enable_orthograd


# Runs trained together and alone differ only in float32 summation order inside vmapped matmuls
# and reductions: tests/tolerances.py's bound for reductions of <= 121 terms (the p = 11 table's
# rows) over the 60 steps, as for the engine (tests/test_engine.py).
@pytest.mark.parametrize("variant", [
    {"loss": "stablemax_ce"},
    # GELU, not ReLU: a pre-activation within rounding of ReLU's kink switches a neuron's gradient
    # on in one program and off in the other, a difference no float tolerance bounds.
    {"loss": "ce", "grokfast_window": 3, "model": "transformer", "width": 16, "heads": 2, "activation": "gelu"},
    {"loss": "ce", "optimizer": "lion"},
])
def test_interventions_swept_in_one_call_equal_runs_trained_alone(tiny_cfg, variant):
    cfg = dataclasses.replace(tiny_cfg, **variant)
    grid = make_grid({"lr": 3e-3, "wd": 0.1}, [("grokfast_lambda", [0.0, 2.0]), ("orthograd", [0.0, 1.0])])
    grid["grokfast_alpha"][:] = [0.9, 0.98, 0.8, 0.5]
    together = run_sweep(cfg, grid, progress=False)
    alone = run_sweep(cfg, grid, max_runs_per_batch=1, progress=False)
    assert_f32_close(together.curves, alone.curves, k=TINY_K, steps=TINY_STEPS)
    assert_f32_close(together.params, alone.params, k=TINY_K, steps=TINY_STEPS)
    # A strength of 0 is the baseline: run 0 equals a sweep where nothing is compiled in.
    baseline = run_sweep(cfg, {k: v[:1] for k, v in grid.items()}, progress=False)
    assert not baseline.cfg.enable_grokfast and not baseline.cfg.enable_orthograd
    for k in baseline.curves:
        np.testing.assert_allclose(together.curves[k][0], baseline.curves[k][0], rtol=2e-4, atol=2e-5, err_msg=k)
    assert not np.allclose(together.curves["train_loss"][3], together.curves["train_loss"][0])


def test_sweeps_saved_before_the_interventions_stay_resumable(tiny_cfg):
    grid = make_grid({"lr": 0.01}, seeds=2)
    old = {k: v for k, v in grid.items() if not HPARAMS.get(k, HPARAMS["lr"]).added_later}
    assert fingerprint(tiny_cfg, old) == fingerprint(tiny_cfg, grid)
    defaults = {k: spec.default for k, spec in HPARAMS.items()}
    listed = lambda g: {"grid": {k: np.asarray(v).tolist() for k, v in g.items()}}  # noqa: E731
    assert differences(listed(old), listed(grid), defaults) == []
    grid["orthograd"][:] = 1.0
    assert fingerprint(tiny_cfg, old) != fingerprint(tiny_cfg, grid)
    assert differences(listed(old), listed(grid), defaults) == ["orthograd: 0.0 -> 1"]


def test_update_noise_with_an_optax_optimizer_is_refused_at_start(tiny_cfg):
    grid = make_grid({"grad_noise": 0.01})
    with pytest.raises(ConfigError, match="--grad_noise is for"):
        features_for(dataclasses.replace(tiny_cfg, optimizer="lion"), grid)
