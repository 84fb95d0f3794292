"""The models: the Doshi MLP (initialization, masked BatchNorm statistics, alpha scaling, the table
path), the Omnigrok vector MLP, LSTM and GCN."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tolerances import assert_f32_close

from grokjax.config import ConfigError, StaticConfig
from grokjax.data.datasets import operation_dataset
from grokjax.models import make_model
from grokjax.models.base import scale_params
from grokjax.models.mlp import doshi_init_std, init_stds, make_mlp
from grokjax.models.vector_mlp import layer_sizes, make_vector_mlp


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
    assert_f32_close(out, expected, k=4)  # numpy's float32 sums of 4 hidden units, another order


def test_batchnorm_statistics_ignore_masked_rows():
    model = make_mlp(7, width=8, norm="batchnorm")
    params, state = model.init(jax.random.key(2))
    inputs = jnp.array([[i % 7, (3 * i) % 7] for i in range(10)])
    mask = jnp.arange(10) < 6
    full, new_state = model.apply(params, state, inputs, train=True, example_mask=mask)
    alone, alone_state = model.apply(params, state, inputs[:6], train=True)
    # Masked moments over 10 rows vs plain ones over 6, then 8 hidden units: reductions <= 10 terms.
    assert_f32_close(full[:6], alone, k=10)
    assert_f32_close(new_state["batchnorm_0"]["mean"], alone_state["batchnorm_0"]["mean"], k=10)
    evaluated, unchanged = model.apply(params, new_state, inputs, train=False)
    assert unchanged is new_state and evaluated.shape == (10, 7)


@pytest.mark.parametrize("op", ["add", "div"])  # div: y runs over 1..p-1 only
def test_mlp_full_table_path_equals_one_hot_path(op, monkeypatch):
    from grokjax.models import mlp
    inputs = operation_dataset(op, 11).inputs
    model = mlp.make_mlp(11, width=16)
    params, state = model.init(jax.random.key(0))

    def loss(p):
        return jnp.sum(jnp.square(model.apply(p, state, inputs)[0]))

    assert mlp.product_grid(inputs) is not None
    assert mlp.product_grid(inputs[::-1]) is None  # other row orders take the generic path
    fast, fast_grads = model.apply(params, state, inputs)[0], jax.grad(loss)(params)
    monkeypatch.setattr(mlp, "USE_TABLE_STRUCTURE", False)
    slow, slow_grads = model.apply(params, state, inputs)[0], jax.grad(loss)(params)
    # Two programs: the first layer is one float32 addition in both, the output sums 16 hidden units,
    # the gradients sum over the 121 rows.
    assert_f32_close(fast, slow, k=16)
    assert_f32_close(fast_grads, slow_grads, k=121)


def test_vector_mlp_has_pytorch_default_init():
    model = make_vector_mlp([64, 200, 10], activation="relu")
    params, _ = model.init(jax.random.key(0))
    for layer, fan_in in (("layer_0", 64), ("layer_1", 200)):
        for part in ("w", "b"):
            x = np.asarray(params[layer][part])
            bound = 1 / np.sqrt(fan_in)
            assert np.abs(x).max() <= bound
            if x.size > 1000:  # U[-s, s] has std s / sqrt(3)
                np.testing.assert_allclose(x.std(), bound / np.sqrt(3), rtol=0.05)
    out, _ = model.apply(params, {}, np.ones((3, 8, 8), np.float32))
    assert out.shape == (3, 10)
    assert layer_sizes(784, 200, 3, 10) == [784, 200, 200, 10]


def test_lstm_and_gcn_shapes_and_standard_init():
    from grokjax.models.gcn import make_gcn
    from grokjax.models.lstm import make_lstm
    lstm = make_lstm(50, 2, embed=8, hidden=16, layers=2)
    params, _ = lstm.init(jax.random.key(0))
    assert np.abs(np.asarray(params["lstm_1"]["w_h"])).max() <= 0.25  # U[-1/sqrt(16), 1/sqrt(16)]
    tokens = np.zeros((3, 7), np.int32)
    tokens[:, -2:] = [[1, 2], [3, 4], [1, 2]]
    out, _ = lstm.apply(params, {}, tokens)
    assert out.shape == (3, 2)
    # Rows 0 and 2 are the same input in one program; a tolerance in case the kernel's blocking
    # puts them in differently ordered sums: 7 steps x 2 layers of reductions over 8 + 16 inputs.
    assert_f32_close(out[0], out[2], k=24, steps=14)
    gcn = make_gcn(5, hidden=8)
    params, _ = gcn.init(jax.random.key(1))
    graphs = {"nodes": np.eye(5, dtype=np.float32)[None].repeat(2, 0), "adj": np.eye(5, dtype=np.float32)[None]
              .repeat(2, 0), "mask": np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)}
    out, _ = gcn.apply(params, {}, graphs)
    assert out.shape == (2, 1) and not np.allclose(out[0], out[1])
