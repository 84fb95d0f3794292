"""Omnigrok's reduced loss landscapes and generalization-time analysis.

Reduced loss (Eq. 1, 3): for each weight norm w = alpha * w0 and data size N,
minimize the training loss on the sphere |w| = w (training at constant norm,
StaticConfig.constrain_norm) and record the train/test loss and error where it
converged. The whole (alpha x frac x seeds) grid is one vmapped sweep.
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from grokjax.config import StaticConfig
from grokjax.data.datasets import Dataset
from grokjax.models.base import Model
from grokjax.plotting.phase_diagram import cell_mean
from grokjax.train.summary import first_step_reaching, last_finite
from grokjax.train.sweep import SweepResult, make_grid, run_sweep

LANDSCAPE_METRICS = ("train_loss", "val_loss", "train_acc", "val_acc", "weight_norm")


@dataclasses.dataclass
class Landscape:
    """Reduced metrics on the (frac, alpha) grid: every array is (n_fracs, n_alphas), seed-averaged."""

    alphas: np.ndarray
    fracs: np.ndarray
    metrics: dict[str, np.ndarray]
    result: SweepResult

    def error(self, split: str) -> np.ndarray:
        return 1.0 - self.metrics[f"{split}_acc"]


def landscape_sweep(cfg: StaticConfig, base: dict, alphas: Sequence[float], fracs: Sequence[float], *,
                    seeds: int = 1, seed: int = 0) -> tuple[StaticConfig, dict]:
    """(cfg, grid) of every (alpha, frac, seed) at constant weight norm.

    Weight decay is set to 0: the reduced training loss excludes it (Sec. 3), and on
    the sphere it would only shrink the update before the projection.

    Runs are ordered by frac first: a batch pads every run's training split to its
    largest frac, so --max_runs_per_batch=len(alphas) * seeds keeps one frac per batch
    and the small fractions train at their own cost.
    """
    cfg = dataclasses.replace(cfg, constrain_norm=True)
    return cfg, make_grid({**base, "wd": 0.0}, [("frac", fracs), ("alpha", alphas)], seeds=seeds, seed=seed)


def landscape_of(result: SweepResult) -> Landscape:
    """The seed-averaged final metrics of a trained landscape_sweep, on its (frac, alpha) grid."""
    metrics = {}
    for name in LANDSCAPE_METRICS:
        xs, ys, mean = cell_mean(last_finite(result.curves[name]), result.grid, "alpha", "frac")
        metrics[name] = mean
    return Landscape(alphas=xs, fracs=ys, metrics=metrics, result=result)


def reduced_landscape(cfg: StaticConfig, base: dict, alphas: Sequence[float], fracs: Sequence[float], *,
                      dataset: Dataset | None = None, model: Model | None = None, seeds: int = 1,
                      seed: int = 0, max_runs_per_batch: int = 64, progress: bool = True) -> Landscape:
    """Trains every (alpha, frac, seed) at constant weight norm and reads off the final metrics."""
    cfg, grid = landscape_sweep(cfg, base, alphas, fracs, seeds=seeds, seed=seed)
    return landscape_of(run_sweep(cfg, grid, dataset=dataset, model=model, max_runs_per_batch=max_runs_per_batch,
                                  keep_params=False, progress=progress))


def lu_shape(train: np.ndarray, test: np.ndarray, flat_tol: float = 0.1) -> dict[str, float | bool]:
    """Checks one landscape row (ordered by alpha) for the L (train) and U (test) shapes.

    L: the train value at the largest alpha is at most `flat_tol` of the range above
    the row minimum, and the smallest alpha is the row maximum side (train falls with w).
    U: the test minimum is interior and both ends are higher than it.
    """
    train, test = np.asarray(train, float), np.asarray(test, float)
    span = max(np.nanmax(train) - np.nanmin(train), 1e-12)
    i_min = int(np.nanargmin(test))
    return {
        "train_is_L": bool(train[0] > train[-1] and train[-1] - np.nanmin(train) <= flat_tol * span),
        "test_is_U": bool(0 < i_min < len(test) - 1 and test[0] > test[i_min] and test[-1] > test[i_min]),
        "test_argmin": i_min,
    }


def steps_to(curves: dict[str, np.ndarray], steps: np.ndarray, threshold: float) -> dict[str, np.ndarray]:
    """First evaluation step with train / test accuracy >= threshold (NaN if never), per run."""
    return {"train": first_step_reaching(curves["train_acc"], steps, threshold),
            "test": first_step_reaching(curves["val_acc"], steps, threshold)}


def loglog_slope(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares slope and intercept of log10 y against log10 x over the finite points."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if ok.sum() < 2:
        return float("nan"), float("nan")
    slope, intercept = np.polyfit(np.log10(x[ok]), np.log10(y[ok]), 1)
    return float(slope), float(intercept)


def concat_grids(*grids: dict) -> dict:
    """Runs of several make_grid grids as one grid (e.g. two alphas with different wd axes)."""
    return {k: np.concatenate([g[k] for g in grids]) for k in grids[0]}
