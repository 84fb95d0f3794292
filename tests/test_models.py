"""The Doshi MLP: initialization, masked BatchNorm statistics, alpha scaling; losses; phases."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from grokjax.analysis.phases import classify_phase
from grokjax.models.base import scale_params
from grokjax.config import ConfigError, StaticConfig
from grokjax.models import make_model
from grokjax.models.mlp import doshi_init_std, init_stds, make_mlp
from grokjax.train.losses import cross_entropy, masked_mean, mse


def test_mlp_init_follows_doshi_and_alpha_scales_every_parameter():
    model = make_mlp(97, width=500)
    params, state = model.init(jax.random.key(0))
    assert params["U"].shape == (500, 97) and params["V"].shape == (500, 97) and params["W"].shape == (97, 500)
    assert state == {}
    assert abs(float(params["U"].std()) - doshi_init_std(500)) < 0.002
    assert np.isclose(doshi_init_std(500), 8000 ** (-1 / 3))
    scaled = scale_params(params, 3.0)
    np.testing.assert_allclose(scaled["W"], 3.0 * params["W"])


@pytest.mark.parametrize("init,expected", [
    # Doshi et al. App. A; G.3 (i) N(0, 2/fan_in): W_in = [U V] has fan_in 2p, hidden and W fan_in N;
    # G.3 (ii) N(0, 2/N^(2/3)).
    ("doshi", lambda p, n: dict.fromkeys(("U", "V", "hidden_1", "W"), (16 * n) ** (-1 / 3))),
    ("standard", lambda p, n: {"U": (2 / (2 * p)) ** 0.5, "V": (2 / (2 * p)) ** 0.5,
                               "hidden_1": (2 / n) ** 0.5, "W": (2 / n) ** 0.5}),
    ("lazy", lambda p, n: dict.fromkeys(("U", "V", "hidden_1", "W"), (2 / n ** (2 / 3)) ** 0.5)),
])
def test_mlp_init_option_gives_the_stated_std_per_layer(init, expected):
    p, width = 31, 1024  # >= 31k weights per matrix: the sample std is within ~0.5% of the true one
    cfg = StaticConfig(p=p, width=width, depth=2, activation="relu", init=init)
    params, _ = make_model(cfg, p).init(jax.random.key(3))
    for name, std in expected(p, width).items():
        assert float(params[name].std()) == pytest.approx(std, rel=0.02), name
        assert abs(float(params[name].mean())) < 0.05 * std, name
    # The schemes rescale the same normal draws: a run's weights differ only by each layer's scale.
    doshi, _ = make_model(StaticConfig(p=p, width=width, depth=2), p).init(jax.random.key(3))
    stds = init_stds(init, p, width, 2)
    for name in expected(p, width):
        np.testing.assert_allclose(params[name] / stds[name], doshi[name] / doshi_init_std(width), rtol=1e-5)


def test_mlp_init_rejects_an_unknown_scheme_in_one_line():
    with pytest.raises(ConfigError, match=r"^--init=xavier is not allowed; choose one of: doshi, standard, lazy$"):
        make_mlp(7, width=8, init="xavier")


def test_mlp_computes_doshi_equation_one():
    model = make_mlp(5, width=4)
    params, state = model.init(jax.random.key(1))
    inputs = jnp.array([[2, 3], [0, 4]])
    out, _ = model.apply(params, state, inputs)
    u, v, w = (np.asarray(params[k]) for k in "UVW")
    expected = np.stack([w @ (u[:, 2] + v[:, 3]) ** 2, w @ (u[:, 0] + v[:, 4]) ** 2])
    np.testing.assert_allclose(out, expected, rtol=1e-5)


def test_batchnorm_statistics_ignore_masked_rows():
    model = make_mlp(7, width=8, norm="batchnorm")
    params, state = model.init(jax.random.key(2))
    inputs = jnp.array([[i % 7, (3 * i) % 7] for i in range(10)])
    mask = jnp.arange(10) < 6
    full, new_state = model.apply(params, state, inputs, train=True, example_mask=mask)
    alone, alone_state = model.apply(params, state, inputs[:6], train=True)
    np.testing.assert_allclose(full[:6], alone, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(new_state["batchnorm_0"]["mean"], alone_state["batchnorm_0"]["mean"], rtol=1e-5)
    evaluated, unchanged = model.apply(params, new_state, inputs, train=False)
    assert unchanged is new_state and evaluated.shape == (10, 7)


def test_losses():
    logits = jnp.array([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    labels = jnp.array([0, 2])
    np.testing.assert_allclose(mse(logits, labels), [(1 + 0 + 0) / 3, (0 + 1 + 1) / 3])
    np.testing.assert_allclose(cross_entropy(logits, labels), -jax.nn.log_softmax(logits)[jnp.arange(2), labels],
                               rtol=1e-6)
    assert np.isnan(masked_mean(jnp.ones(3), jnp.zeros(3, bool)))


def test_phases_follow_doshi_table_2():
    train = [0.95, 0.80, 0.60, 0.95, 0.30, 0.30]
    test = [0.95, 0.95, 0.95, 0.10, 0.10, 0.10]
    best = [0.95, 0.95, 0.95, 0.10, 0.99, 0.20]
    xi = 0.35  # partial inversion needs train >= 1.05 - xi = 0.70
    assert list(classify_phase(train, test, xi, best)) == [
        "coexistence", "partial_inversion", "full_inversion", "memorization", "forgetting", "confusion"]
    assert classify_phase(np.nan, 0.5, 0.1) == "diverged"
