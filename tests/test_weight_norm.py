"""Constrained-norm training: the optax projection (the engine flag is tested in test_omnigrok.py)."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
from tolerances import U32

from grokjax.optim.weight_norm import constrain_global_norm, global_norm


def test_projection_keeps_norm_and_moves_direction():
    params = {"a": jnp.arange(6.0).reshape(2, 3), "b": {"c": jnp.ones(4)}}
    w0 = global_norm(params)
    opt = optax.chain(optax.adam(0.1), constrain_global_norm())
    state = opt.init(params)
    target = jax.tree.map(lambda x: -3.0 * jnp.ones_like(x), params)
    loss = lambda p: sum(jnp.sum((x - t) ** 2) for x, t in zip(jax.tree.leaves(p), jax.tree.leaves(target)))
    @jax.jit
    def step(p, state):
        updates, state = opt.update(jax.grad(loss)(p), state, p)
        return optax.apply_updates(p, updates), state

    p = params
    for _ in range(10):
        p, state = step(p, state)
        # 10 positive squares summed, when projecting and when measuring (<= K u each), plus a few
        # elementwise roundings; x4 safety.
        np.testing.assert_allclose(global_norm(p), w0, rtol=4 * 2 * 10 * U32)
    cos = sum(jnp.vdot(x, y) for x, y in zip(jax.tree.leaves(p), jax.tree.leaves(params))) / w0 ** 2
    assert cos < 0.99 and loss(p) < loss(params)  # it moved on the sphere, downhill


def test_explicit_target_norm():
    params = {"w": jnp.array([3.0, 4.0])}
    opt = constrain_global_norm(2.0)
    updates, _ = opt.update({"w": jnp.array([0.0, 0.0])}, opt.init(params), params)
    # |(3, 4)| = 5 exactly; then a scale 2 / 5 and a product: two roundings, 2 u < 1e-6.
    np.testing.assert_allclose(optax.apply_updates(params, updates)["w"], [1.2, 1.6], rtol=1e-6)
