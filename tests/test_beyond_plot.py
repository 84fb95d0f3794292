"""The grokking-time table (median, bootstrap interval, range per grid point), grid_points.csv and
the intervention figure."""
import numpy as np
import pandas as pd

from grokjax.plotting.beyond import plot_by_value, steps_to_threshold_table
from grokjax.config import StaticConfig
from grokjax.train.experiment import run_grid_experiment
from grokjax.train.summary import median_interval
from grokjax.train.sweep import make_grid


def test_steps_table_per_grid_point_counts_runs_that_never_reached_as_late(tmp_path):
    steps = np.array([100.0, np.nan, np.nan, 300.0, 200.0, 400.0, 500.0, 500.0])
    axes = {"lam": np.array([0, 0, 0, 5, 5, 5, 5, 5]), "a": np.array([0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.98, 0.98])}
    rows = steps_to_threshold_table(steps, axes, 1000)
    assert rows[2] == "| lam=0, a=0.9 | 1 / 3 | > 1000 | 100 to > 1000 | 100-100 |"
    assert rows[3].startswith("| lam=5, a=0.9 | 3 / 3 | 300 | 200-400 |")
    assert rows[4] == "| lam=5, a=0.98 | 2 / 2 | 500 | 500-500 | 500-500 |"
    never = steps_to_threshold_table(np.array([np.nan, np.nan]), {"lam": np.array([2, 2])}, 4000)
    assert never[2] == "| lam=2 | 0 / 2 | > 4000 | > 4000 | - |"
    curves = {"val_acc": np.random.default_rng(0).random((8, 4))}
    plot_by_value(str(tmp_path / "x.png"), np.arange(4), curves, axes, ["val_acc"])
    assert (tmp_path / "x.png").stat().st_size > 0


def test_median_interval_covers_the_median_and_shrinks_with_agreeing_runs():
    lo, hi = median_interval(np.array([10.0, 20.0, 30.0, 40.0, 50.0]))
    assert lo <= 30 <= hi and lo >= 10 and hi <= 50
    assert median_interval(np.full(5, 7.0)) == (7.0, 7.0)


def test_a_seeded_sweep_writes_its_grid_point_times_beside_summary(tmp_path):
    """grid_points.csv: one row per grid point, the median steps to 99% validation over the seeds
    with its interval, as computed from summary.csv; and its plot."""
    cfg = StaticConfig(op="add", p=23, width=128, steps=600, eval_every=50)
    grid = make_grid({"lr": 0.01, "wd": 1.0}, [("frac", [0.5, 0.7])], seeds=3)
    run_grid_experiment(cfg, grid, str(tmp_path), ["frac"], progress=False)
    summary, points = pd.read_csv(tmp_path / "summary.csv"), pd.read_csv(tmp_path / "grid_points.csv")
    assert list(points["frac"]) == [0.5, 0.7] and list(points["runs"]) == [3, 3]
    for frac, row in zip((0.5, 0.7), points.itertuples()):
        steps = summary.loc[np.isclose(summary["frac"], frac), "step_val_acc_99"].to_numpy()
        assert row.reached == np.isfinite(steps).sum()
        assert row.median_step == np.median(np.where(np.isfinite(steps), steps, np.inf))
        assert row.median_ci95_low <= row.median_step <= row.median_ci95_high
    assert np.isfinite(points["median_step"]).all(), "p = 23 at these fractions groks within 600 steps"
    assert (tmp_path / "grokking_time.png").stat().st_size > 0
