"""Tests for grokjax.models.transformer (CPU, fast).

XLA compile time dominates on CPU, so tests share one small model and one
jitted `apply` (fixed batch size) and use `jax.eval_shape` where only shapes matter.
"""
import dataclasses

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from transformer_reference import _hidden_states, reference_logits
from tolerances import assert_f32_close

from grokjax.models.transformer import (
    count_params,
    make_tokens,
    make_transformer,
    non_embedding_param_count,
)

P = 7
B = 8


@pytest.fixture(scope="module")
def small():
    model = make_transformer(P, width=32, depth=2, heads=4, use_dropout=True)
    init = jax.jit(model.init)
    params, state = init(jax.random.PRNGKey(0))
    # Positional wrapper: one call signature -> one compile per `train` value.
    apply = jax.jit(lambda p, s, x, y, train, rng, rate: model.apply(
        p, s, jnp.stack([x, y], 1), train=train, rng=rng, dropout_rate=rate, example_mask=None),
        static_argnums=4)
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.integers(0, P, B), jnp.int32)
    y = jnp.asarray(rng.integers(0, P, B), jnp.int32)
    return model, init, apply, params, state, x, y


def test_output_shape_and_state(small):
    _, _, apply, params, state, x, y = small
    logits, new_state = apply(params, state, x, y, False, jax.random.PRNGKey(1), jnp.float32(0.0))
    assert logits.shape == (B, P)
    assert new_state == {}
    assert bool(jnp.all(jnp.isfinite(logits)))


def test_default_param_count_matches_paper():
    params, state = jax.eval_shape(make_transformer(97).init, jax.random.PRNGKey(0))
    n = non_embedding_param_count(params)
    assert 3.8e5 <= n <= 4.1e5, n
    assert count_params(params) == n + 99 * 128 + 4 * 128 + 128 * 97
    assert params["block_0"]["attn"]["wq"].shape == (128, 4, 32)
    assert params["unembed"]["w"].shape == (128, 97)
    assert state == {}


def _strip_ln(params):
    """Drop LayerNorm params: equivalent to a layernorm=False model's params."""
    out = {k: v for k, v in params.items() if k != "ln_final"}
    for k in out:
        if k.startswith("block_"):
            out[k] = {n: v for n, v in out[k].items() if not n.startswith("ln")}
    return out


def test_layernorm_false_structure(small):
    _, _, _, params, _, _, _ = small
    shapes, _ = jax.eval_shape(
        make_transformer(P, width=32, depth=2, heads=4, layernorm=False).init, jax.random.PRNGKey(0))
    assert jax.tree_util.tree_structure(shapes) == jax.tree_util.tree_structure(_strip_ln(params))


@pytest.mark.parametrize("layernorm", [True, False])
def test_causality(small, layernorm):
    """The plain forward pass the model is defined by (and tested against) is causal."""
    _, _, _, params, _, x, y = small
    params = params if layernorm else _strip_ln(params)

    @jax.jit
    def both(p):
        tok = make_tokens(x, y, P)
        tok2 = tok.at[:, 3].set(0)  # change only the last (EQ) position
        return _hidden_states(p, jnp.concatenate([tok, tok2]))

    h = both(params)
    h1, h2 = h[:B], h[B:]
    np.testing.assert_allclose(h1[:, :3], h2[:, :3], rtol=0, atol=1e-6)
    assert not np.allclose(h1[:, 3], h2[:, 3])


def test_dropout_modes(small):
    _, _, apply, params, state, x, y = small
    key = jax.random.PRNGKey(3)
    half, zero = jnp.float32(0.5), jnp.float32(0.0)
    ev1, _ = apply(params, state, x, y, False, key, half)
    ev2, _ = apply(params, state, x, y, False, jax.random.PRNGKey(4), half)
    tr0, _ = apply(params, state, x, y, True, key, zero)
    tr5, _ = apply(params, state, x, y, True, key, half)
    tr5b, _ = apply(params, state, x, y, True, key, half)
    tr5c, _ = apply(params, state, x, y, True, jax.random.PRNGKey(5), half)
    np.testing.assert_array_equal(ev1, ev2)  # eval ignores rng and rate
    # train=True at rate 0 is another program (its mask is all ones, scale exactly 1): reductions <= 4 * 32.
    assert_f32_close(tr0, ev1, k=128)
    assert not np.allclose(tr5, ev1)
    np.testing.assert_array_equal(tr5, tr5b)  # same rng -> same masks
    assert not np.allclose(tr5, tr5c)


def test_vmap_over_params_matches_separate_calls(small):
    model, init, apply, params, state, x, y = small
    other, _ = init(jax.random.PRNGKey(7))
    # Stack/unstack with numpy: eager jnp ops would each trigger a compile.
    params_R = jax.tree_util.tree_map(lambda a, b: np.stack([a, b]), params, other)
    rngs = np.asarray(jax.random.split(jax.random.PRNGKey(1), 2))
    rates = np.array([0.0, 0.1], np.float32)

    def run(p, s, r, rate):
        return model.apply(p, s, jnp.stack([x, y], 1), train=True, rng=r, dropout_rate=rate, example_mask=None)

    batched, _ = jax.jit(jax.vmap(run, in_axes=(0, None, 0, 0)))(params_R, state, rngs, rates)
    assert batched.shape == (2, B, P)
    for i in range(2):
        p_i = jax.tree_util.tree_map(lambda a: a[i], params_R)  # numpy slice
        single, _ = apply(p_i, state, x, y, True, rngs[i], rates[i])
        assert_f32_close(batched[i], single, k=128)  # vmapped vs alone: reductions <= 4 * 32 MLP units


def test_tiny_model_fits_addition_mod_7():
    xs, ys = np.meshgrid(np.arange(P), np.arange(P), indexing="ij")
    x = jnp.asarray(xs.ravel(), jnp.int32)
    y = jnp.asarray(ys.ravel(), jnp.int32)
    z = (x + y) % P
    # use_dropout with rate 0 in train mode: gradients flow through the dropout path.
    model = make_transformer(P, width=32, depth=1, heads=4, use_dropout=True)
    opt = optax.adam(3e-3)

    def loss_and_acc(p, train):
        logits, _ = model.apply(p, {}, jnp.stack([x, y], 1), train=train, rng=jax.random.PRNGKey(0),
                                dropout_rate=jnp.float32(0.0))
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, z).mean()
        return loss, (logits.argmax(-1) == z).mean()

    def step(carry, _):
        p, o = carry
        g, _ = jax.grad(loss_and_acc, has_aux=True)(p, True)
        u, o = opt.update(g, o, p)
        return (optax.apply_updates(p, u), o), None

    @jax.jit
    def train(key):
        p, _ = model.init(key)
        (p, _), _ = jax.lax.scan(step, (p, opt.init(p)), None, length=300)
        return loss_and_acc(p, False)

    loss, acc = train(jax.random.PRNGKey(0))
    assert np.isfinite(float(loss))
    assert float(acc) == 1.0


def test_tied_embeddings_share_one_parameter():
    """Tied: no unembedding leaf, and the logits are those of an untied model whose unembedding
    is a copy of the number tokens' embedding transposed; changing that one matrix moves both."""
    from grokjax.config import StaticConfig
    from grokjax.models import make_model
    from grokjax.models.transformer import unembedding

    cfg = StaticConfig(model="transformer", p=P, width=16, depth=1, heads=2, activation="relu",
                       norm="layernorm", causal=False, tie_embeddings=True)
    tied = make_model(cfg, P)
    params, state = tied.init(jax.random.PRNGKey(0))
    assert "unembed" not in params and params["embed"]["tokens"].shape == (P + 2, 16)
    assert count_params(params) == count_params(
        jax.eval_shape(make_model(dataclasses.replace(cfg, tie_embeddings=False), P).init,
                       jax.random.PRNGKey(0))[0]) - 16 * P
    untied = make_model(dataclasses.replace(cfg, tie_embeddings=False), P)
    inputs = jnp.array([[1, 2], [3, 4], [6, 0]])
    tied_logits = jax.jit(lambda p: tied.apply(p, state, inputs, train=False)[0])
    untied_logits = jax.jit(lambda p: untied.apply(p, state, inputs, train=False)[0])
    bumped = {**params, "embed": {**params["embed"],
                                  "tokens": params["embed"]["tokens"].at[5].mul(2.0)}}  # token 5 is never an input
    for p in (params, bumped):
        copy = {**p, "unembed": {"w": p["embed"]["tokens"][:P].T}}
        np.testing.assert_array_equal(unembedding(p), copy["unembed"]["w"])
        # Two compiled programs (a gathered, transposed unembedding vs a stored one). Their logits may
        # sum in another order: a K-term float32 reduction in two orders differs by up to ~2 K u
        # (u = 2^-24); the longest here is the 4 * 16 = 64 MLP units, so ~8e-6 (x4 safety); 1.17e-6
        # was seen on another machine, above the old rtol 1e-6.
        assert_f32_close(tied_logits(p), untied_logits(copy), k=64)
    # Token 5 appears in no input, so only the unembedding use of its row changed the output.
    before, after = tied_logits(params), tied_logits(bumped)
    assert not np.allclose(before[:, 5], after[:, 5]) and np.allclose(before[:, :5], after[:, :5])


def test_untied_default_unchanged():
    """The default (untied) model keeps its own (width, n) unembedding, read by `unembedding`."""
    from grokjax.config import StaticConfig
    from grokjax.models import make_model
    from grokjax.models.transformer import unembedding

    assert StaticConfig().tie_embeddings is False and StaticConfig().causal is True
    model = make_model(StaticConfig(model="transformer", p=P, width=16, depth=1, heads=2,
                                    activation="relu", norm="layernorm"), P)
    params, state = model.init(jax.random.PRNGKey(0))
    assert params["unembed"]["w"].shape == (16, P)
    assert unembedding(params) is params["unembed"]["w"]
    direct = make_transformer(P, width=16, depth=1, heads=2).init(jax.random.PRNGKey(0))[0]
    chex.assert_trees_all_equal(params, direct)


def test_tying_and_causal_need_the_transformer():
    from grokjax.config import ConfigError, StaticConfig, validate_static

    for field in ({"tie_embeddings": True}, {"causal": False}):
        with pytest.raises(ConfigError, match="is for the transformer") as err:
            validate_static(StaticConfig(model="mlp", p=7, **field))
        assert "\n" not in str(err.value)


# The optimized apply against the plain forward pass (tests/transformer_reference.py). Both sum
# the same products in different orders (2-D vs 4-D contractions, prefix rows gathered after
# the fact): float32 rounding of a K-term dot product is ~sqrt(K) * 2^-24 relative in practice
# (K <= 4 * width = 128 here), compounded over a few layers and a LayerNorm, on logits of size
# ~1-4: 1e-5 absolute leaves a wide margin over the ~1e-6 seen, and is far below any real bug.
EQUIV_TOL = {"rtol": 1e-5, "atol": 1e-5}
EQUIV_CASES = {  # each path of apply: the prefix table (causal) and per example (bidirectional)
    "paper (causal, pre-LN, 2 layers)": {},
    "1 layer (only the last), no LayerNorm, gelu": {"depth": 1, "layernorm": False, "activation": "gelu"},
    "3 layers, bidirectional, tied embeddings": {"depth": 3, "causal": False, "tie_embeddings": True},
}


def _equiv_model(**overrides):
    """A small model and random parameters drawn in numpy (eager jax ops would each compile):
    weights ~ N(0, 1/fan_in), LayerNorm scales ~ 1 + N(0, 0.1^2) and biases ~ N(0, 0.1^2), so every
    parameter's use is checked."""
    kw = {"width": 32, "depth": 2, "heads": 4, **overrides}
    model = make_transformer(P, **kw)
    rng = np.random.default_rng(11)

    def draw(path, leaf):
        name = jax.tree_util.keystr(path)
        z = rng.normal(size=leaf.shape).astype(np.float32)
        if "scale" in name:
            return 1.0 + 0.1 * z
        return 0.1 * z if ("bias" in name or name.endswith("['b_in']") or name.endswith("['b_out']")) \
            else z / np.sqrt(leaf.shape[0])
    params = jax.tree_util.tree_map_with_path(draw, jax.eval_shape(model.init, jax.random.PRNGKey(0))[0])
    table = np.stack(np.meshgrid(np.arange(P), np.arange(P), indexing="ij"), -1).reshape(-1, 2).astype(np.int32)
    return model, params, table, kw


@pytest.mark.parametrize("case", list(EQUIV_CASES))
def test_optimized_apply_equals_plain_forward(case):
    """Same params, same logits as every position through every layer, on the whole table."""
    model, params, table, kw = _equiv_model(**EQUIV_CASES[case])
    ours = jax.jit(lambda p: model.apply(p, {}, table, train=False)[0])(params)
    plain = jax.jit(lambda p: reference_logits(p, table, P, activation=kw.get("activation", "relu"),
                                               causal=kw.get("causal", True)))(params)
    np.testing.assert_allclose(ours, plain, **EQUIV_TOL)


def test_optimized_gradients_equal_plain_forward():
    """The prefix table's gather and its scatter-add gradient give the plain model's gradients."""
    model, params, table, _ = _equiv_model()
    labels = (table[:, 0] + table[:, 1]) % P

    def loss(logits_fn):
        return lambda p: optax.softmax_cross_entropy_with_integer_labels(logits_fn(p), labels).mean()
    ours = jax.jit(jax.grad(loss(lambda p: model.apply(p, {}, table, train=False)[0])))(params)
    plain = jax.jit(jax.grad(loss(lambda p: reference_logits(p, table, P))))(params)
    chex.assert_trees_all_close(ours, plain, **EQUIV_TOL)


def test_optimized_dropout_equals_plain_forward():
    """Training dropout takes the per-example path; with the same key it draws the same masks."""
    depth, width, rate = 2, 32, 0.3
    model, params, table, _ = _equiv_model(use_dropout=True)
    key = jax.random.PRNGKey(5)
    keep = jax.random.bernoulli(key, 1.0 - rate, (2 * depth, table.shape[0], 4, width))

    def drop(h, layer, sub):
        return jnp.where(keep[2 * layer + sub], h / (1.0 - rate), 0.0)
    ours = jax.jit(lambda p: model.apply(p, {}, table, train=True, rng=key, dropout_rate=rate)[0])(params)
    plain = jax.jit(lambda p: reference_logits(p, table, P, dropout=drop))(params)
    np.testing.assert_allclose(ours, plain, **EQUIV_TOL)


def test_encoder_only_transformer():
    inputs = jnp.array([[1, 2], [1, 3]])
    outs = {}
    for depth in (1, 2):
        for causal in (True, False):
            model = make_transformer(5, width=8, depth=depth, heads=2, causal=causal, layernorm=False)
            params, state = model.init(jax.random.key(0))
            outs[depth, causal], _ = model.apply(params, state, inputs, train=False)
    # Read out at the last position, one layer sees every token either way; two layers differ.
    # Masked vs unmasked attention are two programs; the longest reduction is the 4 * 8 = 32 MLP units.
    assert_f32_close(outs[1, True], outs[1, False], k=32)
    assert not np.allclose(outs[2, True], outs[2, False])
