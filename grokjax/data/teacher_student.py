"""Omnigrok Section 3: a regression task labeled by a randomly initialized teacher MLP.

Teacher and student share the architecture (5-100-100-5 tanh MLP, PyTorch
default init); the teacher keeps the standard scale (alpha = 1). Inputs are
standard Gaussian; the last `n_test` rows are a fixed held-out test set, so the
traced `frac` is the fraction of the `n_train` training pool a run trains on.
"""
from __future__ import annotations

import jax
import numpy as np

from grokjax.data.datasets import Dataset
from grokjax.models.vector_mlp import make_vector_mlp


def teacher_student_dataset(*, d_in: int = 5, width: int = 100, depth: int = 3, d_out: int = 5,
                            activation: str = "tanh", n_train: int = 100, n_test: int = 100,
                            seed: int = 0) -> Dataset:
    """(n_train + n_test) Gaussian inputs labeled by a teacher MLP drawn from `seed`."""
    sizes = [d_in, *([width] * (depth - 1)), d_out]
    teacher = make_vector_mlp(sizes, activation=activation)
    k_teacher, k_inputs = jax.random.split(jax.random.key(seed + 10_000))  # apart from student seeds
    params, state = teacher.init(k_teacher)
    inputs = np.asarray(jax.random.normal(k_inputs, (n_train + n_test, d_in)), np.float32)
    targets, _ = teacher.apply(params, state, inputs)
    held_out = np.arange(n_train + n_test) >= n_train
    return Dataset(name=f"teacher_student_{'-'.join(map(str, sizes))}", inputs=inputs,
                   targets=np.asarray(targets, np.float32), n_classes=0, held_out=held_out)
