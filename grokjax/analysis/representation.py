"""Omnigrok Section 5.1 / Appendix E: the toy addition model and its (w, m) landscape.

Each symbol 0 <= i < p is a scalar E_i (the representation R); the decoder, a
1-200-200-30 ReLU MLP with PyTorch's default init, maps E_i + E_j to a 30-D
vector and is trained by MSE against a fixed random template Y_{i+j}; the
predicted sum is the nearest template. The data are the p(p+1)/2 pairs i <= j
(E_i + E_j is symmetric). R interpolates between a linear and a random
representation with the messiness m (Eq. 4): R = m R_random + (1 - m) R_linear.

Landscape analysis (App. E, Table 1): R and the decoder's norm w are fixed and
only its direction is trained (Adam, every step projected back onto |w| = w), so
the final losses are the reduced losses of Eq. 5. Every (alpha = w / w0, m,
training size, seed) is one run of the engine (grokjax.train.sweep.run_sweep): the
dataset is the pairs (i, j) with targets i + j, and a `Task` (grokjax.train.run) mixes
each run's representation by its traced m and scores outputs against the templates.
Evaluation schedule, progress bar, checkpoints, resuming and live metrics work as for any sweep.
"""
from __future__ import annotations

import dataclasses
import itertools
import math
from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from grokjax.config import HPARAMS, StaticConfig
from grokjax.data.datasets import Dataset
from grokjax.models.base import Model
from grokjax.models.vector_mlp import make_vector_mlp
from grokjax.train.losses import mse
from grokjax.train.run import Task, param_norms
from grokjax.train.summary import last_finite
from grokjax.train.sweep import SweepResult, run_sweep

METRICS = ("train_loss", "val_loss", "train_acc", "val_acc", "weight_norm")


@dataclasses.dataclass(frozen=True, eq=False)
class ToyAddition:
    """The task: all pairs i <= j < p, their sums, output templates and the two end representations."""

    p: int
    pairs: np.ndarray  # (n, 2) int32, i <= j
    sums: np.ndarray  # (n,) int32, i + j in [0, 2p - 2]
    templates: np.ndarray  # (2p - 1, d_out) float32: Y_k ~ N(0, I)
    r_linear: np.ndarray  # (p, d) E_k = [k, 0, ..., 0], k standardized (zero mean, unit variance)
    r_random: np.ndarray  # (p, d) E_k ~ N(0, I)

    @property
    def size(self) -> int:
        return int(self.sums.shape[0])


def toy_addition(p: int = 10, d_out: int = 30, seed: int = 0, rep_dim: int = 1) -> ToyAddition:
    """The paper's toy addition task (App. E); templates and R_random drawn from `seed`.

    App. E embeds each symbol as a scalar (rep_dim 1, decoder 1-200-200-30);
    Sec. 5.1 writes vectors E_k = [k, 0, ..., 0] and N(0, I) (rep_dim > 1). The
    paper's E_k = k is standardized here, which gives both ends of Eq. 4 the same
    spread, so at fixed weight norm they differ only in how the symbols are
    arranged (intermediate m, a mix of two independent draws, are less spread).
    """
    i, j = np.triu_indices(p)
    rng = np.random.default_rng(seed)
    k = np.arange(p, dtype=np.float64)
    return ToyAddition(p=p, pairs=np.stack([i, j], 1).astype(np.int32), sums=(i + j).astype(np.int32),
                       templates=rng.standard_normal((2 * p - 1, d_out)).astype(np.float32),
                       r_linear=np.pad(((k - k.mean()) / k.std())[:, None], ((0, 0), (0, rep_dim - 1)))
                       .astype(np.float32),
                       r_random=rng.standard_normal((p, rep_dim)).astype(np.float32))


def representation(task: ToyAddition, m) -> jax.Array:
    """Eq. 4: R = m R_random + (1 - m) R_linear, (p, d) for a scalar m."""
    return m * jnp.asarray(task.r_random) + (1 - m) * jnp.asarray(task.r_linear)


def decoder(width: int = 200, d_out: int = 30, rep_dim: int = 1, matmul_dtype: str = "float32") -> Model:
    """The rep_dim-width-width-d_out ReLU decoder MLP of App. E (1-200-200-30; PyTorch default init)."""
    return make_vector_mlp([rep_dim, width, width, d_out], activation="relu", matmul_dtype=matmul_dtype)


def frac_for(n_train, n: int):
    """The traced `frac` whose floor(frac * n) is exactly n_train (no float round-down)."""
    return (np.asarray(n_train, np.float64) + 0.5) / n


def toy_dataset(task: ToyAddition) -> Dataset:
    """The pairs (i, j) as inputs and i + j as targets; no class count, so labels are never corrupted."""
    return Dataset(name=f"toy_addition_p{task.p}", inputs=task.pairs, targets=task.sums, n_classes=0)


def toy_task(task: ToyAddition) -> Task:
    """The engine's hook for the toy model: inputs E_i + E_j under the run's R(m), MSE against the
    template of i + j, correct when the nearest template is that of i + j."""
    templates = jnp.asarray(task.templates)

    def inputs(pairs, hp):
        r = representation(task, hp["m"])
        return r[pairs[:, 0]] + r[pairs[:, 1]]

    def correct(outputs, sums):
        dist = jnp.sum(jnp.square(outputs[:, None, :] - templates[None]), axis=-1)
        return jnp.argmin(dist, axis=-1) == sums

    return Task(loss=lambda outputs, sums: mse(outputs, templates[sums]), correct=correct, inputs=inputs)


def toy_grid(task: ToyAddition, alphas: Sequence[float], ms: Sequence[float], n_trains: Sequence[int], *,
             lr: float, seeds: int = 1, seed: int = 0) -> dict:
    """Flat per-run arrays, ordered (n_train, m, alpha, seed), seeds fastest; seed s shares its split.
    Every engine hyperparameter is a column (weight decay 0: the reduced loss excludes it, Eq. 5, and
    on the sphere it would only shrink steps), plus m and n_train."""
    rows = list(itertools.product(n_trains, ms, alphas, range(seeds)))
    grid = {k: np.full(len(rows), spec.default, np.float32) for k, spec in HPARAMS.items()}
    grid.update({"lr": np.full(len(rows), lr, np.float32), "wd": np.zeros(len(rows), np.float32),
                 "alpha": np.asarray([r[2] for r in rows], np.float32),
                 "model_seed": np.asarray([seed + r[3] for r in rows], np.int32),
                 "n_train": np.asarray([r[0] for r in rows], np.int32),
                 "m": np.asarray([r[1] for r in rows], np.float32)})
    grid["data_seed"] = grid["model_seed"].copy()
    grid["frac"] = frac_for(grid["n_train"], task.size).astype(np.float32)
    return grid


class ToySweep(NamedTuple):
    """What the engine trains for a landscape: run_sweep(cfg, grid, dataset=, model=, task=)."""

    cfg: StaticConfig  # constrain_norm on: it defines the landscape
    grid: dict
    dataset: Dataset
    model: Model
    task: Task


def toy_sweep(cfg: StaticConfig, task: ToyAddition, alphas: Sequence[float], ms: Sequence[float],
              n_trains: Sequence[int], *, lr: float, width: int = 200, seeds: int = 1, seed: int = 0) -> ToySweep:
    """Every (n_train, m, alpha, seed) at constant decoder norm, as one engine sweep."""
    n = task.size
    if min(n_trains) < 1 or max(n_trains) >= n:
        raise ValueError(f"training sizes must be in [1, {n - 1}] (the task has {n} pairs)")
    model = decoder(width, task.templates.shape[1], task.r_random.shape[1], cfg.matmul_dtype)
    return ToySweep(dataclasses.replace(cfg, constrain_norm=True),
                    toy_grid(task, alphas, ms, n_trains, lr=lr, seeds=seeds, seed=seed),
                    toy_dataset(task), model, toy_task(task))


@dataclasses.dataclass
class RepresentationLandscape:
    """Reduced metrics over (n_train, m, alpha), seed-averaged: arrays (n_sizes, n_ms, n_alphas)."""

    alphas: np.ndarray
    ms: np.ndarray
    n_trains: np.ndarray
    w0: float  # mean global norm of the standard init (w = alpha * w0)
    metrics: dict[str, np.ndarray]
    result: SweepResult

    @property
    def ws(self) -> np.ndarray:
        return self.alphas * self.w0


def init_norm(model: Model, seeds: Sequence[int]) -> float:
    """Mean global L2 norm of the standard (alpha = 1) init over the model seeds."""
    norms = [param_norms(model.init(jax.random.split(jax.random.key(s), 3)[0])[0])["weight_norm"] for s in seeds]
    return float(np.mean(norms))


def landscape_of(sweep: ToySweep, result: SweepResult, alphas: Sequence[float], ms: Sequence[float],
                 n_trains: Sequence[int], seeds: int = 1, seed: int = 0) -> RepresentationLandscape:
    """The seed-averaged final metrics of a trained toy sweep, on its (n_train, m, alpha) grid."""
    shape = (len(n_trains), len(ms), len(alphas), seeds)
    metrics = {k: np.nanmean(last_finite(result.curves[k]).reshape(shape), axis=-1) for k in METRICS}
    return RepresentationLandscape(alphas=np.asarray(alphas, float), ms=np.asarray(ms, float),
                                   n_trains=np.asarray(n_trains), w0=init_norm(sweep.model, range(seed, seed + seeds)),
                                   metrics=metrics, result=result)


def representation_landscape(cfg: StaticConfig, task: ToyAddition, alphas: Sequence[float], ms: Sequence[float],
                             n_trains: Sequence[int], *, lr: float, width: int = 200, seeds: int = 1,
                             seed: int = 0, max_runs_per_batch: int = 64, progress: bool = True,
                             checkpoints=None) -> RepresentationLandscape:
    """Trains every (n_train, m, alpha, seed) at constant decoder norm; reduced metrics at the end."""
    sweep = toy_sweep(cfg, task, alphas, ms, n_trains, lr=lr, width=width, seeds=seeds, seed=seed)
    result = run_sweep(sweep.cfg, sweep.grid, dataset=sweep.dataset, model=sweep.model, task=sweep.task,
                       max_runs_per_batch=max_runs_per_batch, keep_params=False, progress=progress,
                       checkpoints=checkpoints)
    return landscape_of(sweep, result, alphas, ms, n_trains, seeds, seed)


def reduced_trajectory(log_w: np.ndarray, ms: np.ndarray, train_loss: np.ndarray, start: tuple[float, float], *,
                       eta_d: float, eta_r: float, gamma: float, dt: float, n_steps: int) -> np.ndarray:
    """Eq. 6 integrated on a landscape: (w, m) under gradient flow on the reduced train loss plus decay.

    dw/dt = -eta_d (dl/dw + gamma w), dm/dt = -eta_r dl/dm, with l a smooth (cubic
    spline) fit of the (m x log w) grid of reduced train losses; m is kept in
    [0, 1] and w inside the grid. Returns (n_steps + 1, 2) rows of (w, m).
    """
    from scipy.interpolate import RectBivariateSpline

    spline = RectBivariateSpline(ms, log_w, train_loss, kx=min(3, len(ms) - 1), ky=min(3, len(log_w) - 1))
    w, m = start
    path = [(w, m)]
    for _ in range(n_steps):
        lw = math.log(w)
        dl_dm = float(spline.ev(m, lw, dx=1))
        dl_dw = float(spline.ev(m, lw, dy=1)) / w  # d/dw = (1/w) d/dlog w
        w = float(np.clip(w - dt * eta_d * (dl_dw + gamma * w), math.exp(log_w[0]), math.exp(log_w[-1])))
        m = float(np.clip(m - dt * eta_r * dl_dm, 0.0, 1.0))
        path.append((w, m))
    return np.asarray(path)
