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
    with pytest.raises(ConfigError, match="unknown measure 'fourier'"):
        validate_static(dataclasses.replace(tiny_cfg, measures="ipr,fourier"))
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
