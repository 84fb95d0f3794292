import jax
import jax.numpy as jnp
import numpy as np
import pytest

from grokjax.data.operations import make_table
from grokjax.data.splits import make_run_data

TABLE = make_table("add", 13)


def run_data(seed, frac, xi, outliers=0):
    return jax.device_get(make_run_data(jax.random.key(seed), jnp.asarray(TABLE.z), TABLE.n_elements,
                                        jnp.float32(frac), jnp.float32(xi), jnp.int32(outliers)))


@pytest.mark.parametrize("frac,xi,outliers", [(0.5, 0.0, 0), (0.3, 0.35, 0), (0.9, 0.5, 0), (0.5, 0.0, 7),
                                              (0.7, 0.2, 10)])
def test_split_and_corruption_sizes_are_exact(frac, xi, outliers):
    n = TABLE.size
    d = run_data(0, frac, xi, outliers)
    n_train = int(np.floor(np.float32(frac) * n))
    assert d.n_train == n_train == d.train_mask.sum()
    n_corrupt = int(np.floor(np.float32(xi) * n_train))
    assert d.corrupted.sum() == n_corrupt + outliers
    assert not np.any(d.corrupted & ~d.train_mask)  # only training labels are touched
    assert np.array_equal(d.labels[~d.corrupted], TABLE.z[~d.corrupted])
    assert np.array_equal(np.sort(d.perm), np.arange(n))
    assert np.array_equal(d.train_mask[d.perm], np.arange(n) < n_train)


def test_corrupted_labels_are_roughly_uniform_and_mostly_wrong():
    d = run_data(1, 0.9, 0.9)
    changed = np.mean(d.labels[d.corrupted] != TABLE.z[d.corrupted])
    assert 1 - 3 / 13 < changed < 1.0  # uniform over 13 classes keeps ~1/13 by chance


def test_outliers_take_answers_of_other_training_rows():
    d = run_data(2, 0.6, 0.0, 20)
    train_answers = set(TABLE.z[d.train_mask & ~d.corrupted].tolist())
    assert set(d.labels[d.corrupted].tolist()) <= train_answers


def test_data_seed_controls_the_split():
    a, b, c = run_data(3, 0.5, 0.2), run_data(3, 0.5, 0.2), run_data(4, 0.5, 0.2)
    assert np.array_equal(a.train_mask, b.train_mask) and np.array_equal(a.labels, b.labels)
    assert not np.array_equal(a.train_mask, c.train_mask)


def test_smaller_fraction_is_a_prefix_of_the_same_permutation():
    small, large = run_data(5, 0.3, 0.0), run_data(5, 0.6, 0.0)
    assert np.all(large.train_mask[small.train_mask])
