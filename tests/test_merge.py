"""A grid split into shards (SLURM array jobs) and merged equals the grid run whole."""
import os
import shutil

import numpy as np
import pandas as pd
import pytest
from conftest import assert_results_close
from tolerances import f32_rtol

from grokjax import cli
from grokjax.config import ConfigError
from grokjax.merge import main as merge_main
from grokjax.merge import merge_workdirs, shard_runs

TINY = ["--p=11", "--width=32", "--steps=20", "--eval_every=10", "--progress=false", "--lr=0.01", "--wd=1",
        "--x_axis=frac", "--x_values=0.3,0.6", "--y_axis=xi", "--y_values=0,0.2", "--max_runs_per_batch=2"]


def run_phase_diagram(*args: str) -> None:
    """What experiments/phase_diagram.py (and launch/sweep.py) do with these flags, in this process
    (which shares the compile cache: the whole grid's batches of 2 have the shards' shape)."""
    cli.define_flags()
    cli.FLAGS.unparse_flags()
    try:
        cli.FLAGS(["phase_diagram", *TINY, *args])
        cli.run_plan(cli.sweep_plan())
    finally:
        cli.FLAGS.unparse_flags()


def test_merged_shards_equal_the_whole_grid(tmp_path):
    run_phase_diagram(f"--workdir={tmp_path / 'whole'}")
    for i in (1, 0):  # any order: the merge orders shards by their index (shard.json)
        run_phase_diagram(f"--workdir={tmp_path / f'shard_{i}'}", f"--shard_index={i}", "--num_shards=2")
    assert len(pd.read_csv(tmp_path / "shard_1" / "summary.csv")) == 2
    assert merge_main([str(tmp_path / "shard_*"), f"--out={tmp_path / 'merged'}"]) == 0

    assert list(pd.read_csv(tmp_path / "merged" / "summary.csv")["run"]) == [0, 1, 2, 3]
    # p = 11 (reductions over <= 121 rows), 20 steps; atol for the metrics near 0 (losses, accuracies <= 1).
    rtol = f32_rtol(121, steps=20)
    assert_results_close(tmp_path / "merged", tmp_path / "whole", rtol=rtol, atol=rtol)
    assert os.path.exists(tmp_path / "merged" / "phase_diagram.png")
    # Merging the same shards again into their earlier merge is allowed, and so is an --out holding
    # the shards themselves (launch/README.md); --out holding another sweep is refused (never overwritten).
    assert merge_main([str(tmp_path / "shard_*"), f"--out={tmp_path / 'merged'}"]) == 0
    for i in (0, 1):
        shutil.copytree(tmp_path / f"shard_{i}", tmp_path / "nest" / f"shard_{i}")
    for _ in range(2):
        assert merge_main([str(tmp_path / "nest" / "shard_*"), f"--out={tmp_path / 'nest'}"]) == 0
    whole = sorted(os.listdir(tmp_path / "whole"))
    assert merge_main([str(tmp_path / "shard_*"), f"--out={tmp_path / 'whole'}"]) == 2
    assert sorted(os.listdir(tmp_path / "whole")) == whole

    os.remove(tmp_path / "shard_1" / "shard.json")  # a missing shard is refused, not silently skipped
    with pytest.raises(ConfigError, match="shard.json"):
        merge_workdirs([str(tmp_path / "shard_0"), str(tmp_path / "shard_1")], str(tmp_path / "m2"))


def test_shards_cover_the_grid_in_order():
    parts = [shard_runs(10, i, 3) for i in range(3)]
    assert np.array_equal(np.concatenate(parts), np.arange(10))
    assert [len(p) for p in parts] == [4, 3, 3]
