"""Measures: each against a hand or numpy computation, refused where they do not apply, swept in one
call equal to runs alone, recorded in metrics and summary, and a changed measure set refused on resume."""
import dataclasses

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from grokjax.analysis.ipr import embedding_ipr, mean_ipr
from grokjax.checkpoint.store import fingerprint
from grokjax.config import ConfigError, StaticConfig, validate_static
from grokjax.data.datasets import operation_dataset
from grokjax.models.base import Model
from grokjax.train import run_dir
from grokjax.train.measures import (Probe, check_applicable, effective_rank, neuron_ipr, selected,
                                    softmax_collapse, weight_norms)
from grokjax.train.run import make_run_fns
from grokjax.train.summary import summarize
from grokjax.train.sweep import make_grid, run_sweep

ALL = "ipr,softmax_collapse,effective_rank"


def probe(params=None, outputs=None, labels=None, train_mask=None, n_classes=5):
    data = None if labels is None else type("Data", (), {"labels": labels, "train_mask": train_mask})()
    return Probe(params, {}, data, None, None, outputs, n_classes)


def test_neuron_ipr_equals_the_numpy_analysis():
    rng = np.random.default_rng(0)
    params = {"U": rng.normal(size=(6, 11)), "V": rng.normal(size=(6, 11)), "W": rng.normal(size=(11, 6))}
    params["U"][0] = np.cos(2 * np.pi * 3 * np.arange(11) / 11)  # one Fourier neuron
    got = neuron_ipr(probe(jax.tree.map(jnp.float32, params)))["ipr"]
    np.testing.assert_allclose(got, mean_ipr(params), rtol=1e-5)
    tokens = rng.normal(size=(13, 8))  # 11 number tokens + OP, EQ
    got = neuron_ipr(probe({"embed": {"tokens": jnp.float32(tokens)}}, n_classes=11))["ipr"]
    np.testing.assert_allclose(got, embedding_ipr({"embed": {"tokens": tokens}}, 11).mean(), rtol=1e-5)


def test_softmax_collapse_counts_training_examples_at_probability_one():
    outputs = jnp.array([[200.0, 0.0, 0.0],   # label 0 at float32 probability exactly 1
                         [5.0, 0.0, 0.0],     # probability 0.987: not collapsed
                         [0.0, 300.0, 0.0],   # collapsed on the wrong class: not counted
                         [0.0, 0.0, 500.0]])  # collapsed, but a validation row
    got = softmax_collapse(probe(outputs=outputs, labels=jnp.array([0, 0, 0, 2]),
                                 train_mask=jnp.array([True, True, True, False])))
    np.testing.assert_allclose(got["softmax_collapse"], 1 / 3)


def test_absorbed_gradient_against_float64():
    """The absorbed share of the label logits' gradient, against numpy's float64 1 - p_y and the
    float32 softmax training uses."""
    def absorbed(outputs, train=None):
        outputs = jnp.float32(outputs)
        train = jnp.ones(len(outputs), bool) if train is None else jnp.array(train)
        got = softmax_collapse(probe(outputs=outputs, labels=jnp.zeros(len(outputs), int), train_mask=train))
        return float(got["softmax_collapse/absorbed_gradient"])

    assert absorbed([[40.0, 0.0, 0.0]]) == 1.0  # p_y = 1 in float32: all of the label gradient lost
    assert absorbed([[2.0, 1.0, 0.0]]) < 1e-6  # ordinary: float32 rounding only
    # 1 - p_y = 6.1e-7, ten float32 spacings below 1: partly absorbed, as numpy says.
    z = np.array([15.0, 0.0, 0.0])
    exact = 2 * np.exp(-15.0) / (1 + 2 * np.exp(-15.0))
    p32 = float(jax.nn.softmax(jnp.float32(z))[0])
    np.testing.assert_allclose(absorbed([z]), abs(exact - (1 - p32)) / exact, rtol=1e-4)
    assert 0 < absorbed([z]) < 1
    # A collapsed validation row does not count.
    assert absorbed([[2.0, 1.0, 0.0], [60.0, 0.0, 0.0]], train=[True, False]) < 1e-6


def test_effective_rank_by_hand():
    params = {"eye": jnp.eye(4), "one": jnp.outer(jnp.arange(1.0, 4.0), jnp.ones(5)),
              "two": jnp.diag(jnp.array([3.0, 1.0])), "bias": jnp.ones(3)}
    got = effective_rank(probe(params))
    q = np.array([0.75, 0.25])
    np.testing.assert_allclose([got["effective_rank/eye"], got["effective_rank/one"], got["effective_rank/two"]],
                               [4.0, 1.0, np.exp(-(q * np.log(q)).sum())], rtol=1e-5)
    assert "effective_rank/bias" not in got


def test_weight_norms_is_always_recorded():
    assert selected("") == ("weight_norms",) and selected("ipr,weight_norms") == ("weight_norms", "ipr")
    got = weight_norms(probe({"a": jnp.array([3.0]), "b": {"c": jnp.array([4.0])}}))
    assert got == {"norm/a": 3.0, "norm/b": 4.0, "weight_norm": 5.0}


def test_unknown_or_inapplicable_measures_are_refused_at_start(tiny_cfg):
    with pytest.raises(ConfigError, match="unknown measure 'bogus'"):
        validate_static(dataclasses.replace(tiny_cfg, measures="ipr,bogus"))
    flat = {"w": jax.ShapeDtypeStruct((4,), jnp.float32)}
    with pytest.raises(ConfigError, match="--measures=ipr does not apply to --model=mlp"):
        check_applicable("ipr", flat, tiny_cfg, 11)
    with pytest.raises(ConfigError, match="softmax_collapse does not apply.*classification"):
        check_applicable("softmax_collapse", flat, tiny_cfg, 0)
    vector = Model(init=lambda key: ({"w": jnp.zeros(4)}, {}),
                   apply=lambda params, state, inputs, **kw: (jnp.zeros((inputs.shape[0], 11)), state))
    with pytest.raises(ConfigError, match="--measures=effective_rank does not apply.*no weight matrix"):
        make_run_fns(dataclasses.replace(tiny_cfg, measures="effective_rank"), operation_dataset("add", 11), vector)


def test_measures_and_an_intervention_swept_in_one_call_equal_runs_alone(tiny_cfg):
    # Tolerance as tests/test_engine.py: float32 summation order differs between a vmapped and a single run.
    cfg = dataclasses.replace(tiny_cfg, loss="ce", measures=ALL)
    grid = make_grid({"lr": 0.01, "wd": 0.5}, [("grokfast_lambda", [0.0, 2.0])], seeds=2)
    together = run_sweep(cfg, grid, progress=False)
    alone = run_sweep(cfg, grid, max_runs_per_batch=1, progress=False)
    assert {"ipr", "softmax_collapse", "effective_rank/U", "weight_norm", "norm/W"} <= set(together.curves)
    chex.assert_trees_all_close(together.curves, alone.curves, rtol=2e-4, atol=2e-5)
    # The measure at the end equals the measure of the final parameters computed outside the sweep.
    final = jax.tree.map(lambda a: a[1], together.params)
    np.testing.assert_allclose(together.curves["ipr"][1, -1], mean_ipr(final), rtol=1e-4)
    summary = summarize(together)
    np.testing.assert_array_equal(summary["final_ipr"], together.curves["ipr"][:, -1])
    assert "final_effective_rank/W" in summary and "final_softmax_collapse" in summary


def test_resuming_with_another_measure_set_is_refused_naming_it(tmp_path, tiny_cfg):
    grid = make_grid({"lr": 0.01})
    workdir = str(tmp_path / "sweep")
    run_dir.start(workdir, run_dir.sweep_config(tiny_cfg, grid))
    run_dir.start(workdir, run_dir.sweep_config(tiny_cfg, grid))  # the same set resumes
    changed = dataclasses.replace(tiny_cfg, measures="ipr")
    with pytest.raises(ConfigError, match=r"different configuration \(measures: \(none\) -> ipr\)"):
        run_dir.start(workdir, run_dir.sweep_config(changed, grid))
    assert fingerprint(tiny_cfg, grid) != fingerprint(changed, grid)  # checkpoints without a workdir too


def test_fourier_measures_on_a_hand_built_fourier_model():
    p, n = 13, 4
    a = np.arange(p)
    params = {"U": np.tile(np.cos(2 * np.pi * 3 * a / p) + 1.0, (n, 1)),  # frequency 3 plus a constant
              "V": np.tile(np.sin(2 * np.pi * 5 * a / p), (n, 1)), "W": np.zeros((p, n))}
    # Energies per column: U's constant p^2 and frequency 3 p^2 / 2, V's frequency 5 p^2 / 2 (Parseval):
    # the key frequencies hold (p^2 / 2 + p^2 / 2) / (2 p^2) = 1/2.
    x, y = np.meshgrid(a, a, indexing="ij")
    inputs = np.stack([x.ravel(), y.ravel()], 1)
    c = np.arange(p)
    logits = 10.0 * np.cos(2 * np.pi * 3 * ((inputs[:, :1] + inputs[:, 1:]) - c[None, :]) / p)  # the algorithm
    answers = (inputs[:, 0] + inputs[:, 1]) % p
    train = np.arange(p * p) % 3 == 0
    data = type("Data", (), {"labels": jnp.asarray(answers), "train_mask": jnp.asarray(train)})()
    from grokjax.train.losses import cross_entropy
    from grokjax.train.measures import fourier
    got = fourier(Probe(jax.tree.map(jnp.float32, params), {}, data, jnp.asarray(inputs), jnp.asarray(answers),
                        jnp.float32(logits), p, cross_entropy))
    np.testing.assert_allclose(got["fourier/top_k_share"], 0.5, rtol=1e-5)
    # The logits live in the key directions: restricting to them keeps the full loss, excluding them
    # leaves constant logits, whose loss is log p.
    shifted = logits - logits.max(1, keepdims=True)
    full_loss = np.mean(np.log(np.exp(shifted).sum(1)) - shifted[np.arange(p * p), answers])
    np.testing.assert_allclose(got["fourier/restricted_loss"], full_loss, rtol=1e-4)
    np.testing.assert_allclose(got["fourier/excluded_loss"], np.log(p), rtol=1e-4)


@pytest.mark.parametrize("variant", [{}, {"model": "transformer", "width": 16, "heads": 2, "activation": "relu"}])
def test_fourier_measures_in_a_sweep_and_refused_off_modular_addition(tiny_cfg, variant):
    cfg = dataclasses.replace(tiny_cfg, measures="fourier", steps=20, **variant)
    result = run_sweep(cfg, make_grid({"lr": 0.01}, seeds=2), progress=False)
    share = result.curves["fourier/top_k_share"]
    assert np.all((share > 0) & (share <= 1)) and np.all(np.isfinite(result.curves["fourier/excluded_loss"]))
    with pytest.raises(ConfigError, match="--measures=fourier does not apply.*--op=add"):
        run_sweep(dataclasses.replace(cfg, op="mul"), make_grid({"lr": 0.01}), progress=False)
