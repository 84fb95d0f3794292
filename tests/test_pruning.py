"""Pruning neurons in IPR order (Doshi et al. Figures 6, 17, 18, 32)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tolerances import assert_f32_close

from grokjax.analysis import pruning
from grokjax.models.mlp import make_mlp
from grokjax.train.sweep import make_grid, run_sweep


def test_pruning_a_neuron_equals_zeroing_its_weights():
    model = make_mlp(11, width=16)
    params, state = model.init(jax.random.key(0))
    inputs = jnp.stack(jnp.divmod(jnp.arange(121), 11), -1)
    keep = np.ones(16, np.float32)
    keep[[2, 5, 9]] = 0
    pruned, _ = model.apply(pruning.prune_neurons(params, keep), state, inputs)
    # The same network built without those neurons.
    idx = np.flatnonzero(keep)
    small = {"U": params["U"][idx], "V": params["V"][idx], "W": params["W"][:, idx]}
    expected, _ = make_mlp(11, width=len(idx)).apply(small, {}, inputs)
    assert_f32_close(pruned, expected, k=16)  # two programs; the zeroed neurons' terms are exact zeros


def test_order_and_masks():
    values = np.array([0.5, 0.1, 0.9, 0.3])
    np.testing.assert_array_equal(pruning.pruning_order(values, "low_first"), [1, 3, 0, 2])
    np.testing.assert_array_equal(pruning.pruning_order(values, "high_first"), [2, 0, 3, 1])
    masks = pruning.keep_masks(np.array([1, 3, 0, 2]), [0, 1, 3])
    np.testing.assert_array_equal(masks, [[1, 1, 1, 1], [1, 0, 1, 1], [0, 0, 1, 0]])
    with pytest.raises(ValueError):
        pruning.pruning_order(values, "sideways")


def test_max_prunable_counts_the_prefix():
    assert pruning.max_prunable(np.array([1.0, 0.95, 0.8, 0.95]), [0, 10, 20, 30], 0.9) == 10
    assert pruning.max_prunable(np.array([1.0, 1.0]), [0, 10], 0.9) == 10
    assert pruning.max_prunable(np.array([0.5, 1.0]), [0, 10], 0.9) == 0


def test_pruning_curves_match_the_engine_and_end_at_zero_output(tiny_cfg):
    grid = make_grid({"frac": 0.6, "xi": 0.2}, seeds=1)
    result = run_sweep(tiny_cfg, grid, progress=False)
    params = jax.tree.map(lambda a: a[0], result.params)
    width = params["U"].shape[0]
    curves = pruning.pruning_curves(tiny_cfg, pruning.run_hparams(grid, 0), params, np.arange(width),
                                    [0, width // 2, width])
    for name in ("val_acc", "train_clean_acc", "train_corrupt_acc", "val_loss"):
        assert_f32_close(curves[name][0], result.curves[name][0, -1], k=121)  # another program, 121 rows
    # No neurons left: every output is 0, so the MSE against a one-hot target is 1/p (sums of exact
    # 0s and 1s, then one division: within a few u).
    assert curves["val_loss"][-1] == pytest.approx(1 / tiny_cfg.p, rel=1e-5)
    assert curves["train_corrupt_loss"][-1] == pytest.approx(1 / tiny_cfg.p, rel=1e-5)
