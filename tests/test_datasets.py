"""Any Dataset and Model train through the same engine (Omnigrok's non-algorithmic tasks)."""
import jax
import jax.numpy as jnp
import numpy as np

from grokjax.config import StaticConfig
from grokjax.data.datasets import Dataset, operation_dataset
from grokjax.data.splits import make_run_data
from grokjax.models.base import Model
from grokjax.train.sweep import make_grid, run_sweep


def linear_model(d_in: int, d_out: int) -> Model:
    def init(key):
        return {"w": 0.1 * jax.random.normal(key, (d_in, d_out))}, {}

    def apply(params, state, inputs, *, train=False, rng=None, dropout_rate=0.0, example_mask=None):
        return inputs @ params["w"], state

    return Model(init, apply)


def test_regression_dataset_with_a_custom_model_fits_a_linear_teacher():
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(200, 5)).astype(np.float32)
    targets = (inputs @ rng.normal(size=(5, 3))).astype(np.float32) * 0.3
    dataset = Dataset("teacher", inputs, targets, n_classes=0)
    cfg = StaticConfig(loss="mse", optimizer="adam", steps=300, eval_every=100)
    result = run_sweep(cfg, make_grid({"lr": 0.03, "frac": 0.5}), dataset=dataset, model=linear_model(5, 3),
                       progress=False)
    assert result.curves["val_loss"][0, -1] < 1e-3
    assert result.curves["val_acc"][0, -1] == 1.0  # every example within the 0.01 tolerance


def test_held_out_rows_are_never_trained_on():
    held_out = np.zeros(50, bool)
    held_out[40:] = True
    data = make_run_data(jax.random.key(0), jnp.arange(50) % 7, 7, jnp.float32(0.99), jnp.float32(0.0),
                         jnp.int32(0), held_out)
    assert not np.any(np.asarray(data.train_mask)[held_out])
    assert int(data.n_train) == 39  # floor(0.99 * 40 pool rows)


def test_operation_dataset_inputs_are_operand_pairs():
    ds = operation_dataset("sub", 7)
    assert ds.inputs.shape == (49, 2) and ds.n_classes == 7
    assert np.all((ds.inputs[:, 0] - ds.inputs[:, 1]) % 7 == ds.targets)
