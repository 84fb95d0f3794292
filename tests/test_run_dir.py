"""grokjax.train.run_dir: names, escaping, atomic writes, the config schema, old directories, sweep sets."""
import json
import os

import numpy as np
import pytest

from grokjax.config import ConfigError, StaticConfig
from grokjax.train import run_dir
from grokjax.train.sweep import make_grid

CFG = StaticConfig(op="add", p=11, width=16, steps=60, eval_every=20)


def test_metric_names_and_grid_round_trip_through_metrics_npz(tmp_path):
    steps = np.array([0, 20])
    curves = {"val_acc": np.ones((3, 2)), "norm/U": np.zeros((3, 2)), "norm/block_0/wq": np.full((3, 2), 2.0)}
    grid = {"wd": np.array([0.0, 1.0, 2.0]), "model_seed": np.arange(3)}
    path = tmp_path / run_dir.METRICS
    run_dir.write_npz(str(path), **run_dir.pack_metrics(steps, curves, grid, group=np.array(["a", "b", "b"])))
    with np.load(path) as saved:
        assert "norm__U" in saved.files and "hp__wd" in saved.files and "group" in saved.files
    got_steps, got_curves, got_grid, extra = run_dir.read_metrics(str(tmp_path), extra=("group",))
    np.testing.assert_array_equal(got_steps, steps)
    assert sorted(got_curves) == sorted(curves) and sorted(got_grid) == ["model_seed", "wd"]
    np.testing.assert_array_equal(got_curves["norm/block_0/wq"], curves["norm/block_0/wq"])
    assert list(extra["group"]) == ["a", "b", "b"]
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".tmp-")]  # written whole, then renamed


def test_config_schema_and_old_configs_resume(tmp_path):
    grid = make_grid({"wd": 1.0}, [("frac", [0.3, 0.5])])
    config = run_dir.sweep_config(CFG, grid, ["frac"], 64)
    assert config["format"] == run_dir.FORMAT and config["n_runs"] == 2 and config["extra"] == {}
    # A directory written before the schema had "format" and "extra" (format 1) resumes unchanged.
    old = {k: v for k, v in config.items() if k not in ("format", "extra")}
    (tmp_path / run_dir.CONFIG).write_text(json.dumps(old))
    assert run_dir.prepare_workdir(str(tmp_path), config) is True
    # `extra` (e.g. a dataset's settings) is part of what must match.
    with pytest.raises(ConfigError, match=r"n_pool: \(unset\) -> 500"):
        run_dir.prepare_workdir(str(tmp_path), run_dir.sweep_config(CFG, grid, ["frac"], 64, extra={"n_pool": 500}))
    (tmp_path / run_dir.CONFIG).write_text(json.dumps({**config, "format": run_dir.FORMAT + 1}))
    with pytest.raises(ConfigError, match="newer grokjax"):
        run_dir.read_config(str(tmp_path))


@pytest.mark.parametrize("config,needle", [
    ({"static": {}, "figure": "grokking", "sweeps": [{"label": "main"}]}, "is a set of sweeps (main)"),
    ({"static": {}, "lr": 0.01, "toy": {"p": 5}}, "no 'grid'"),
])
def test_directories_that_are_not_one_sweep_are_refused_in_one_line(tmp_path, config, needle):
    (tmp_path / "sweeps" / "main").mkdir(parents=True)
    (tmp_path / run_dir.CONFIG).write_text(json.dumps(config))
    with pytest.raises(ConfigError) as err:
        run_dir.RunDir(str(tmp_path))
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_sweep_set_lists_its_sweeps_in_config_order(tmp_path):
    for label in ("b", "a", "stray"):
        (tmp_path / "sweeps" / label).mkdir(parents=True)
    run_dir.write_json(str(tmp_path / run_dir.CONFIG), run_dir.sweep_set_config(CFG, {"b": {}, "a": {}}))
    sweeps = run_dir.SweepSet(str(tmp_path))
    assert sweeps.labels() == ["b", "a", "stray"] and run_dir.is_sweep_set(str(tmp_path))
    assert sweeps.path("a") == os.path.join(str(tmp_path), "sweeps", "a")


def test_overwrite_removes_only_grokjax_outputs(tmp_path):
    workdir = str(tmp_path)
    config = run_dir.sweep_config(CFG, make_grid({}), [], 64)
    run_dir.start(workdir, config, "--p=11\n")
    for name in (run_dir.STREAM, run_dir.SUMMARY, "curves.png", "notes.txt"):
        (tmp_path / name).write_text("x")
    for folder in (run_dir.TENSORBOARD, run_dir.SWEEPS, run_dir.CHECKPOINTS):
        (tmp_path / folder).mkdir()
    assert run_dir.prepare_workdir(workdir, config, overwrite=True) is False
    assert sorted(os.listdir(tmp_path)) == [".lock", "notes.txt"]


def test_stream_rows_write_nulls_and_skip_a_torn_last_line(tmp_path):
    rows = run_dir.stream_rows(0, [3], {"wd": np.array([0, 0, 0, 5.0])}, 1, 20,
                               {"val_acc": np.array([np.nan]), "norm/U": np.array([2.0])}, 1.5)
    assert rows == [{"run": 3, "batch": 0, "t": 1, "step": 20, "time": 1.5, "wd": 5.0, "val_acc": None,
                     "norm/U": 2.0}]
    (tmp_path / run_dir.STREAM).write_bytes(run_dir.encode_rows(rows) + b'{"run": 4, "ba')
    frame = run_dir.read_stream(str(tmp_path))
    assert len(frame) == 1 and np.isnan(frame["val_acc"][0]) and frame["norm/U"][0] == 2.0
