"""The intervention table (median, bootstrap interval, range per grid point) and figure."""
import numpy as np

from grokjax.plotting.beyond import median_interval, plot_by_value, steps_to_threshold_table


def test_steps_table_per_grid_point_counts_runs_that_never_reached_as_late(tmp_path):
    steps = np.array([100.0, np.nan, np.nan, 300.0, 200.0, 400.0, 500.0, 500.0])
    axes = {"lam": np.array([0, 0, 0, 5, 5, 5, 5, 5]), "a": np.array([0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.98, 0.98])}
    rows = steps_to_threshold_table(steps, axes, 1000)
    assert rows[2] == "| lam=0, a=0.9 | 1 / 3 | > 1000 | 100-> 1000 | 100-100 |"
    assert rows[3].startswith("| lam=5, a=0.9 | 3 / 3 | 300 | 200-400 |")
    assert rows[4] == "| lam=5, a=0.98 | 2 / 2 | 500 | 500-500 | 500-500 |"
    curves = {"val_acc": np.random.default_rng(0).random((8, 4))}
    plot_by_value(str(tmp_path / "x.png"), np.arange(4), curves, axes, ["val_acc"])
    assert (tmp_path / "x.png").stat().st_size > 0


def test_median_interval_covers_the_median_and_shrinks_with_agreeing_runs():
    lo, hi = median_interval(np.array([10.0, 20.0, 30.0, 40.0, 50.0]))
    assert lo <= 30 <= hi and lo >= 10 and hi <= 50
    assert median_interval(np.full(5, 7.0)) == (7.0, 7.0)
