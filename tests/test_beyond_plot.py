"""The intervention table and figure."""
import numpy as np

from grokjax.plotting.beyond import plot_by_value, steps_to_threshold_table


def test_steps_table_counts_runs_that_never_reached_as_late(tmp_path):
    steps = np.array([100.0, np.nan, np.nan, 300.0, 200.0, 400.0])
    values = np.array([0, 0, 0, 5, 5, 5])
    rows = steps_to_threshold_table(steps, values, "lam", 1000)
    assert rows[2] == "| 0 | 1 / 3 | > 1000 | 100-100 |"
    assert rows[3] == "| 5 | 3 / 3 | 300 | 200-400 |"
    curves = {"val_acc": np.random.default_rng(0).random((6, 4))}
    plot_by_value(str(tmp_path / "x.png"), np.arange(4), curves, values, "lam", ["val_acc"])
    assert (tmp_path / "x.png").stat().st_size > 0
