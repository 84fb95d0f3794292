"""Per-run train/validation splits, label corruption and outliers, all traced.

The full operation table lives on the device. Each run draws a permutation from
its data key; the rows at ranks [0, n_train) are its training set, the rest is
validation. Because fraction, corruption and outlier count are array values (not
shapes), runs with different values share one compiled program and one vmap.
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


class RunData(NamedTuple):
    """One run's view of the table (every array has the table's length n)."""

    perm: jax.Array  # (n,) row index at each rank; ranks < n_train are training rows
    labels: jax.Array  # (n,) training targets: the true answer unless corrupted ((n, d) for regression)
    train_mask: jax.Array  # (n,) bool
    corrupted: jax.Array  # (n,) bool, training rows whose label was replaced
    n_train: jax.Array  # () int32


def n_train_of(frac: jax.Array, n_pool: int, n: int, xp=jnp) -> jax.Array:
    """floor(frac * n_pool) in float32, kept in [1, n - 1] so both splits are non-empty.
    `xp=np` computes the same number on the host (float32 products are exact IEEE in both)."""
    return xp.clip(xp.floor(xp.float32(frac) * xp.float32(n_pool)).astype(xp.int32), 1, min(n_pool, n - 1))


def make_run_data(key: jax.Array, answers: jax.Array, n_classes: int, frac: jax.Array,
                  xi: jax.Array, outliers: jax.Array, held_out: np.ndarray | None = None) -> RunData:
    """Split the table and corrupt training labels for one run.

    Doshi et al. corruption: floor(xi * n_train) training labels are replaced by
    labels drawn uniformly from all classes (so ~1/n_classes keep their value by
    chance, which the paper's 1.05 - xi threshold allows for). Power et al. A.4
    outliers: the answers of `outliers` further training rows are replaced by the
    answers of other, randomly chosen, training rows. Both kinds are flagged in
    `corrupted`, so accuracy on the clean and noisy parts can be reported.

    `held_out` (a static (n,) bool array) marks rows that are always validation
    (a fixed test set); `frac` is then a fraction of the other rows. With
    `n_classes == 0` (regression) targets are never corrupted.
    """
    n = answers.shape[0]
    k_perm, k_noise = jax.random.split(key)
    perm = jax.random.permutation(k_perm, n)
    n_pool = n
    if held_out is not None:  # held-out rows go last, so no training rank reaches them
        perm = perm[jnp.argsort(jnp.asarray(held_out)[perm], stable=True)]
        n_pool = int(n - np.sum(held_out))
    rank = jnp.zeros(n, jnp.int32).at[perm].set(jnp.arange(n, dtype=jnp.int32))
    n_train = n_train_of(frac, n_pool, n)
    if n_classes == 0:
        return RunData(perm=perm, labels=answers, train_mask=rank < n_train,
                       corrupted=jnp.zeros(n, bool), n_train=n_train)
    n_corrupt = jnp.floor(xi * n_train).astype(jnp.int32)
    n_noisy = jnp.minimum(n_corrupt + jnp.asarray(outliers).astype(jnp.int32), n_train)

    # A random permutation makes any fixed range of ranks a uniform random subset,
    # so corruption takes ranks [0, n_corrupt) and outliers the ranks after them.
    # One uniform draw serves both kinds (each extra jax.random call costs compile time).
    u_corrupt, u_donor = jax.random.uniform(k_noise, (2, n))
    random_labels = jnp.minimum(jnp.floor(u_corrupt * n_classes).astype(jnp.int32), n_classes - 1)
    n_donors = jnp.maximum(n_train - n_noisy, 1)
    donor_rank = n_noisy + jnp.minimum(jnp.floor(u_donor * n_donors).astype(jnp.int32), n_donors - 1)
    donor_labels = answers[perm[jnp.clip(donor_rank, 0, n - 1)]]
    is_corrupt = rank < n_corrupt
    is_outlier = (rank >= n_corrupt) & (rank < n_noisy)
    labels = jnp.where(is_corrupt, random_labels, jnp.where(is_outlier, donor_labels, answers))
    return RunData(perm=perm, labels=labels.astype(jnp.int32), train_mask=rank < n_train,
                   corrupted=is_corrupt | is_outlier, n_train=n_train)
