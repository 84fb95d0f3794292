"""The optax chains: AdamW matches optax's, decay towards init, update noise, warmup."""
import dataclasses

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax

from grokjax.config import StaticConfig
from grokjax.optim.chains import make_optimizer
from grokjax.optim.transforms import add_decayed_weights_towards_init, add_update_noise, linear_warmup

PARAMS = {"a": jnp.array([1.0, -2.0, 3.0]), "b": {"c": jnp.array([[0.5, -0.5]])}}
GRADS = jax.tree.map(lambda p: 0.1 * p + 0.3, PARAMS)
HP = {"lr": jnp.float32(0.01), "wd": jnp.float32(0.5), "grad_noise": jnp.float32(0.0)}


def run(opt, steps=5):
    params, state = PARAMS, opt.init(PARAMS)
    for _ in range(steps):
        updates, state = opt.update(GRADS, state, params)
        params = optax.apply_updates(params, updates)
    return params


def test_adamw_chain_equals_optax_adamw():
    cfg = StaticConfig(optimizer="adamw", beta1=0.9, beta2=0.98)
    ours = run(make_optimizer(cfg, HP, jax.random.key(0)))
    reference = run(optax.adamw(0.01, b1=0.9, b2=0.98, eps=1e-8, weight_decay=0.5))
    chex.assert_trees_all_close(ours, reference, rtol=1e-6)


def test_adam_with_l2_equals_optax_chain_of_decay_then_adam():
    cfg = StaticConfig(optimizer="adam")
    ours = run(make_optimizer(cfg, HP, jax.random.key(0)))
    reference = run(optax.chain(optax.add_decayed_weights(0.5), optax.adam(0.01, b1=0.9, b2=0.98)))
    chex.assert_trees_all_close(ours, reference, rtol=1e-6)


def test_decay_towards_init_pulls_back_to_the_initial_params():
    opt = optax.chain(add_decayed_weights_towards_init(1.0), optax.sgd(0.1))
    state = opt.init(PARAMS)
    moved = jax.tree.map(lambda p: p + 1.0, PARAMS)
    zero = jax.tree.map(jnp.zeros_like, PARAMS)
    updates, _ = opt.update(zero, state, moved)
    chex.assert_trees_all_close(updates, jax.tree.map(lambda p: -0.1 * jnp.ones_like(p), PARAMS))
    updates_at_init, _ = opt.update(zero, state, PARAMS)
    chex.assert_trees_all_close(updates_at_init, zero)


def test_update_noise_has_the_requested_scale_and_fresh_draws():
    big = {"w": jnp.zeros(20_000)}
    opt = add_update_noise(jnp.float32(0.3), jax.random.key(1))
    state = opt.init(big)
    first, state = opt.update(big, state)
    second, _ = opt.update(big, state)
    assert abs(float(jnp.std(first["w"])) - 0.3) < 0.01
    assert not np.allclose(first["w"], second["w"])


def test_update_noise_enters_the_chain_before_the_learning_rate():
    cfg = dataclasses.replace(StaticConfig(optimizer="adamw"), enable_grad_noise=True)
    hp = {**HP, "wd": jnp.float32(0.0), "grad_noise": jnp.float32(1.0)}
    opt = make_optimizer(cfg, hp, jax.random.key(2))
    big = {"w": jnp.zeros(20_000)}
    updates, _ = opt.update(big, opt.init(big), big)
    assert abs(float(jnp.std(updates["w"])) - 0.01) < 5e-4  # lr * (adam(0) + N(0, 1))


def test_linear_warmup():
    schedule = linear_warmup(jnp.float32(1e-3), 10)
    assert np.isclose(schedule(0), 1e-4) and np.isclose(schedule(9), 1e-3) and np.isclose(schedule(50), 1e-3)
