"""Per-run derived results: final values, best accuracy, threshold steps, phase."""
from __future__ import annotations

import numpy as np

from grokjax.analysis.phases import classify_phase
from grokjax.config import HPARAMS, SEED_KEYS
from grokjax.train.measures import measure_columns

THRESHOLD = 0.99
FINAL_METRICS = ("train_acc", "val_acc", "train_loss", "val_loss", "train_clean_acc", "train_corrupt_acc",
                 "train_corrupt_true_acc", "weight_norm")


def first_step_reaching(curves_GxT: np.ndarray, steps_T: np.ndarray, threshold: float) -> np.ndarray:
    """Step of the first evaluation point at or above `threshold`; NaN if never."""
    reached = np.nan_to_num(curves_GxT, nan=-np.inf) >= threshold
    first = np.argmax(reached, axis=1)
    return np.where(reached.any(axis=1), steps_T[first], np.nan)


def last_finite(curves_GxT: np.ndarray) -> np.ndarray:
    """Each run's last non-NaN value (runs stopped early keep their last evaluation)."""
    finite = ~np.isnan(curves_GxT)
    last = curves_GxT.shape[1] - 1 - np.argmax(finite[:, ::-1], axis=1)
    return np.where(finite.any(axis=1), curves_GxT[np.arange(len(curves_GxT)), last], np.nan)


def summarize(result) -> dict[str, np.ndarray]:
    """Columns of summary.csv, each a (G,) array; one row per run."""
    grid, curves, steps = result.grid, result.curves, result.steps
    columns = {"run": np.arange(len(grid["model_seed"]))}
    columns.update({k: grid[k] for k in (*HPARAMS, *SEED_KEYS)})
    columns.update({k: v for k, v in grid.items() if k not in columns})  # a task's own columns (e.g. m)
    for name in FINAL_METRICS:
        columns[f"final_{name}"] = last_finite(curves[name])
    for name in measure_columns(getattr(result.cfg, "measures", ""), curves):
        columns[f"final_{name}"] = last_finite(curves[name])
    columns["best_val_acc"] = np.nanmax(np.where(np.isnan(curves["val_acc"]), -np.inf, curves["val_acc"]), axis=1)
    columns["best_val_acc"] = np.where(np.isinf(columns["best_val_acc"]), np.nan, columns["best_val_acc"])
    columns["step_train_acc_99"] = first_step_reaching(curves["train_acc"], steps, THRESHOLD)
    columns["step_val_acc_99"] = first_step_reaching(curves["val_acc"], steps, THRESHOLD)
    columns["diverged"] = result.diverged.astype(bool)
    columns["diverged_step"] = result.diverged_step
    if np.any(grid["xi"] > 0) or np.any(grid["outliers"] > 0):
        phase = classify_phase(columns["final_train_acc"], columns["final_val_acc"], grid["xi"],
                               columns["best_val_acc"])
        columns["phase"] = np.where(result.diverged, "diverged", phase)
    return columns
