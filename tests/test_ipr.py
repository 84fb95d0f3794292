"""IPR (Doshi et al. eq. 3-4): exact values on hand-made rows, shapes, transformer embeddings."""
import jax
import numpy as np
import pytest

from grokjax.analysis import ipr as ipr_lib
from grokjax.analysis.analytic import analytic_params


@pytest.mark.parametrize("freq", [0, 1, 5, 48])
def test_pure_cosine_row_has_ipr_one(freq):
    row = np.cos(2 * np.pi * freq * np.arange(97) / 97 + 0.3)
    assert ipr_lib.ipr(row) == pytest.approx(1.0, abs=1e-9)


def test_full_dft_splits_a_cosine_into_two_peaks():
    row = np.cos(2 * np.pi * 5 * np.arange(97) / 97)
    assert ipr_lib.ipr(row, onesided=False) == pytest.approx(0.5, abs=1e-9)


def test_delta_row_has_the_flat_spectrum_minimum():
    row = np.zeros(97)
    row[3] = 2.0
    assert ipr_lib.ipr(row) == pytest.approx(1 / (97 // 2 + 1), rel=1e-9)


def test_random_rows_have_low_ipr_and_two_cosines_half():
    rows = np.random.default_rng(0).normal(size=(200, 97))
    values = ipr_lib.ipr(rows)
    assert values.shape == (200,) and np.all(values < 0.2) and values.mean() < 0.06
    two = np.cos(2 * np.pi * 3 * np.arange(97) / 97) + np.cos(2 * np.pi * 7 * np.arange(97) / 97)
    assert ipr_lib.ipr(two) == pytest.approx(0.5, abs=1e-9)


def test_neuron_ipr_uses_rows_of_u_v_and_columns_of_w():
    rng = np.random.default_rng(1)
    p, n = 31, 8
    cos_NxP = np.cos(2 * np.pi * np.outer(np.arange(1, n + 1), np.arange(p)) / p)
    params = {"U": cos_NxP, "V": rng.normal(size=(n, p)), "W": cos_NxP.T}
    out = ipr_lib.neuron_ipr(params)
    np.testing.assert_allclose(out["U"], 1.0, atol=1e-9)
    np.testing.assert_allclose(out["W"], 1.0, atol=1e-9)
    assert np.all(out["V"] < 0.5)
    np.testing.assert_allclose(out["neuron"], (2 + out["V"]) / 3)
    batched = {k: np.stack([v, v]) for k, v in params.items()}  # a sweep's run axis
    assert ipr_lib.mean_ipr(batched).shape == (2,)


def test_analytic_solution_has_ipr_one():
    params = analytic_params(31, 64, seed=0)
    np.testing.assert_allclose(ipr_lib.neuron_ipr(params)["neuron"], 1.0, atol=1e-5)


def test_embedding_ipr_of_transformer_and_mlp():
    from grokjax.models.transformer import make_transformer
    params, _ = make_transformer(11, width=16, depth=1, heads=2).init(jax.random.key(0))
    values = ipr_lib.embedding_ipr(params, 11)
    assert values.shape == (16,) and np.all((values > 0) & (values <= 1))
    mlp = analytic_params(11, 32)
    np.testing.assert_allclose(ipr_lib.embedding_ipr(mlp, 11), 1.0, atol=1e-5)
    assert ipr_lib.output_ipr(params).shape == (16,)
    counts, edges = ipr_lib.histogram(values, bins=10)
    assert counts.sum() == 16 and edges[0] == 0 and edges[-1] == 1
