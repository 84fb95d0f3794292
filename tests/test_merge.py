"""A grid split into shards (SLURM array jobs) and merged equals the grid run whole."""
import dataclasses
import os

import numpy as np
import pandas as pd
import pytest

from grokjax.config import ConfigError
from grokjax.merge import main as merge_main
from grokjax.merge import shard_grid, write_shard_info
from grokjax.train.experiment import run_grid_experiment
from grokjax.train.sweep import make_grid


def test_merged_shards_equal_the_whole_grid(tiny_cfg, tmp_path):
    cfg = dataclasses.replace(tiny_cfg, steps=20, eval_every=10)
    grid = make_grid({"lr": 0.01, "wd": 1.0}, [("frac", [0.3, 0.6]), ("xi", [0.0, 0.2])])
    axes = ["frac", "xi"]
    # Batches of 2 runs, as in the shards: one compiled program serves all three sweeps.
    run_grid_experiment(cfg, grid, str(tmp_path / "whole"), axes, progress=False, max_runs_per_batch=2)
    for i in (1, 0):  # any order: the merge orders shards by their index
        part, runs = shard_grid(grid, i, 2)
        write_shard_info(str(tmp_path / f"shard_{i}"), i, 2, runs, 4)
        run_grid_experiment(cfg, part, str(tmp_path / f"shard_{i}"), axes, progress=False)
    assert merge_main([str(tmp_path / "shard_*"), f"--out={tmp_path / 'merged'}"]) == 0

    whole, merged = (pd.read_csv(tmp_path / d / "summary.csv") for d in ("whole", "merged"))
    assert list(merged.columns) == list(whole.columns)
    assert list(merged["run"]) == [0, 1, 2, 3]
    assert list(merged["phase"]) == list(whole["phase"])
    numeric = whole.select_dtypes("number").columns
    np.testing.assert_allclose(merged[numeric], whole[numeric], rtol=2e-4, atol=2e-5)
    with np.load(tmp_path / "whole" / "metrics.npz") as a, np.load(tmp_path / "merged" / "metrics.npz") as b:
        assert sorted(a.files) == sorted(b.files)
        for k in a.files:
            np.testing.assert_allclose(b[k], a[k], rtol=2e-4, atol=2e-5)
    assert os.path.exists(tmp_path / "merged" / "phase_diagram.png")

    os.remove(tmp_path / "shard_1" / "shard.json")  # a missing shard is refused, not silently skipped
    with pytest.raises(ConfigError, match="shard.json"):
        from grokjax.merge import merge_workdirs
        merge_workdirs([str(tmp_path / "shard_0"), str(tmp_path / "shard_1")], str(tmp_path / "m2"))
