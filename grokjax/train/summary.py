"""Per-run derived results (final values, best accuracy, threshold steps, phase) and, per grid point
over its seeds, the median steps to 99% validation with a bootstrap interval."""
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


def grid_points(axes: dict[str, np.ndarray]) -> list[tuple[dict[str, float], np.ndarray]]:
    """(values, run mask) of each distinct combination of the axes' per-run values, in sorted order;
    no axes: one point holding every run."""
    names = list(axes)
    if not names:
        return []
    combos = sorted({tuple(float(axes[n][i]) for n in names) for i in range(len(axes[names[0]]))})
    return [(dict(zip(names, combo)), np.all([axes[n] == v for n, v in zip(names, combo)], axis=0))
            for combo in combos]


def median_interval(steps: np.ndarray, n_boot: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Bootstrap 95% interval of the median (runs that never reached the threshold are +inf)."""
    rng = np.random.default_rng(seed)
    samples = rng.choice(steps, size=(n_boot, len(steps)), replace=True)
    medians = np.median(samples, axis=1)
    # Order statistics, not interpolation: a median may be +inf (more than half the draws never reached it).
    return float(np.percentile(medians, 2.5, method="lower")), float(np.percentile(medians, 97.5, method="higher"))


def grid_point_times(step_R: np.ndarray, axes: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Columns of grid_points.csv, one row per grid point of `axes` (name -> per-run values) over its
    runs (seeds): how many reached the threshold, the median step (runs that never did count as +inf,
    so the median is inf when fewer than half did), its bootstrap 95% interval, and the range of the
    runs that did (NaN if none)."""
    points = grid_points(axes) or [({}, np.ones(len(step_R), bool))]
    rows = []
    for values, mask in points:
        s = np.where(np.isfinite(step_R[mask]), step_R[mask], np.inf)
        hit = s[np.isfinite(s)]
        lo, hi = median_interval(s)
        rows.append({**values, "runs": len(s), "reached": len(hit), "median_step": float(np.median(s)),
                     "median_ci95_low": lo, "median_ci95_high": hi,
                     "min_step": float(hit.min()) if len(hit) else np.nan,
                     "max_step": float(hit.max()) if len(hit) else np.nan})
    return {k: np.asarray([r[k] for r in rows]) for k in rows[0]}


def seed_point_times(summary: dict[str, np.ndarray], grid: dict[str, np.ndarray], axes: list[str]) -> dict | None:
    """grid_points.csv's columns (grid_point_times of the steps to 99% validation) when some grid
    point of `axes` holds several runs (seeds); None otherwise."""
    points = grid_point_times(np.asarray(summary["step_val_acc_99"], float), {a: grid[a] for a in axes})
    return points if points["runs"].max() > 1 else None
