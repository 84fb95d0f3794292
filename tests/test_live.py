"""Live metrics: metrics.jsonl read with pandas while a sweep runs, no duplicates after a resume,
TensorBoard event files, and the progress line of `python -m grokjax.inspect`."""
import os
import shutil
import struct
import sys

import numpy as np
import pandas as pd
import pytest

from grokjax import inspect
from grokjax.checkpoint.store import CheckpointOptions
from grokjax.config import ConfigError, StaticConfig
from grokjax.train import live, run_dir
from grokjax.train.experiment import run_grid_experiment
from grokjax.train.sweep import make_grid

CFG = StaticConfig(op="add", p=11, width=16, steps=60, eval_every=20)  # as tests/test_checkpoint.py
GRID = make_grid({"lr": 0.01, "wd": 1.0}, [("frac", [0.3, 0.5, 0.7])])


def run(workdir, **options):
    return run_grid_experiment(CFG, GRID, str(workdir), ["frac"], max_runs_per_batch=2, progress=False,
                               checkpoint=CheckpointOptions(every=1, keep=5), **options)


def test_the_stream_is_read_by_pandas_while_the_sweep_runs(tmp_path, monkeypatch):
    seen = []
    append = live.LiveMetrics.append

    def append_and_read(self, batch, rows):  # a reader in the middle of the sweep, after every chunk
        append(self, batch, rows)
        seen.append(pd.read_json(os.path.join(self.workdir, run_dir.STREAM), lines=True))
    monkeypatch.setattr(live.LiveMetrics, "append", append_and_read)
    result = run(tmp_path)
    assert [len(frame) for frame in seen] == [2, 4, 6, 8, 9, 10, 11, 12]  # batches of 2 and 1 runs, 4 points each
    frame = run_dir.read_stream(str(tmp_path))
    assert {"run", "batch", "t", "step", "time", "frac", "wd", "model_seed", "val_acc", "norm/U"} <= set(frame)
    assert not frame.duplicated(["run", "t"]).any()
    table = frame.pivot(index="run", columns="step", values="val_acc")
    np.testing.assert_allclose(table.to_numpy(), result.curves["val_acc"], rtol=1e-6)
    np.testing.assert_allclose(frame.groupby("run")["frac"].first(), GRID["frac"], rtol=1e-6)


def test_a_resumed_sweep_leaves_each_point_once(tmp_path):
    reference = run(tmp_path / "straight")
    workdir = tmp_path / "resumed"
    run(workdir)
    # Back to an interruption: batch 1 at its first checkpoint (step 20), while the stream already had
    # points up to step 60 (written after every chunk, checkpoints only every so often), and a kill
    # cut the stream's last line in half.
    for step in ("40", "60"):
        shutil.rmtree(workdir / "checkpoints" / "batch_001" / step)
    os.remove(workdir / run_dir.PROGRESS)
    with open(workdir / run_dir.STREAM, "ab") as f:
        f.write(b'{"run": 2, "batch": 1, "t": 3, "st')
    run(workdir)
    frame = run_dir.read_stream(str(workdir))
    assert len(frame) == 12 and not frame.duplicated(["run", "t"]).any()
    table = frame.pivot(index="run", columns="step", values="val_acc")
    np.testing.assert_array_equal(table.to_numpy().astype(np.float32), reference.curves["val_acc"])  # float32 exact
    # The rows of batch 0 kept their wall times; the replayed points of batch 1 got new ones.
    assert frame["time"].notna().all()


def read_scalars(logdir: str) -> dict[str, dict[int, float]]:
    """TensorBoard event files (TFRecords of Event protos) -> tag -> {step: value}."""
    from tensorboardX.proto import event_pb2
    out: dict[str, dict[int, float]] = {}
    for name in sorted(os.listdir(logdir)):
        with open(os.path.join(logdir, name), "rb") as f:
            data = f.read()
        pos = 0
        while pos < len(data):
            (length,) = struct.unpack("<Q", data[pos:pos + 8])
            event = event_pb2.Event.FromString(data[pos + 12:pos + 12 + length])
            pos += 12 + length + 4
            for value in event.summary.value:
                out.setdefault(value.tag, {})[event.step] = value.simple_value
    return out


def test_tensorboard_logs_every_run(tmp_path):
    pytest.importorskip("tensorboardX")
    result = run(tmp_path, tensorboard=True)
    logs = sorted(os.listdir(tmp_path / run_dir.TENSORBOARD))
    assert logs == ["run_00000", "run_00001", "run_00002"]
    scalars = read_scalars(str(tmp_path / run_dir.TENSORBOARD / "run_00002"))
    assert sorted(scalars["val_acc"]) == [0, 20, 40, 60] and "norm/U" in scalars
    np.testing.assert_allclose([scalars["val_acc"][s] for s in (0, 20, 40, 60)], result.curves["val_acc"][2],
                               rtol=1e-6)


def test_tensorboard_without_its_package_is_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    with pytest.raises(ConfigError, match=r"^--tensorboard needs the tensorboardX package: pip install"):
        live.require_tensorboard()


def test_inspect_shows_a_running_sweeps_progress(tmp_path, capsys):
    run(tmp_path)
    os.remove(tmp_path / run_dir.PROGRESS)
    rows = run_dir.read_stream_rows(str(tmp_path))
    # As the stream looks while batch 1 (run 2) is at step 20, its chunks timed 2 s apart.
    kept = [r for r in rows if r["batch"] == 0 or r["t"] <= 1]
    for i, r in enumerate(kept):
        r["time"] = 1000.0 + 2 * (r["t"] + 4 * r["batch"])
    run_dir.write_text(str(tmp_path / run_dir.STREAM), run_dir.encode_rows(kept).decode())
    line = inspect.live_progress(run_dir_sweep(tmp_path), now=1014.0)
    assert line == "live: batch 2 of 2 at step 20 of 60; 2/3 runs finished; 10 steps/s, ETA 4 s (last point 4 s ago)"
    assert inspect.main([str(tmp_path)]) == 0
    assert "live: batch 2 of 2 at step 20 of 60" in capsys.readouterr().out


def run_dir_sweep(workdir):
    from grokjax.checkpoint.reader import SweepDir
    return SweepDir(str(workdir))
