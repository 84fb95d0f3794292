"""Checkpoints: round trip, bit-identical resume (in process and after SIGKILL), config identity, extraction."""
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from typing import NamedTuple

import jax
import numpy as np
import pytest
from conftest import subprocess_env

from grokjax.checkpoint import snapshots
from grokjax.checkpoint.store import BatchCheckpoints, CheckpointOptions, SweepCheckpoints
from grokjax.config import ConfigError, StaticConfig
from grokjax.train.experiment import experiment_config
from grokjax.train import sweep
from grokjax.train.sweep import make_grid, run_sweep
from grokjax.train.run_dir import prepare_workdir

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(REPO, "experiments", "phase_diagram.py")
# One static config and batch shape for every sweep in these tests (and tests/test_inspect.py),
# so the persistent compilation cache compiles their programs once.
CFG = StaticConfig(op="add", p=11, width=16, steps=60, eval_every=20)


def small_grid():
    grid = make_grid({"lr": 0.01, "wd": 1.0, "grad_noise": 0.01}, [("frac", [0.3, 0.5, 0.7])])
    grid["grad_noise"][1] = 0.0  # noise puts a PRNG key in the optimizer state
    return grid


class FakeState(NamedTuple):  # what matters about RunState: typed keys, namedtuples, empty nodes, scalars
    params: dict
    model_state: dict
    opt_state: tuple
    step_key: jax.Array
    step: jax.Array


def _same(a, b) -> None:
    """Bitwise equality of two pytrees (NaN == NaN; typed keys compared by their data)."""
    data = lambda x: np.asarray(jax.random.key_data(x) if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)  # noqa
                                else x)
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        assert x.dtype == y.dtype and np.array_equal(data(x), data(y), equal_nan=True)


def test_save_restore_round_trip(tmp_path):
    runs = 3
    params = {"W": jax.random.normal(jax.random.key(0), (runs, 4, 5)), "b": {"c": np.zeros((runs, 2), np.float32)}}
    state = FakeState(params=params,
                      model_state={}, opt_state=({"mu": np.ones((runs, 4), np.float32)}, ()),
                      step_key=jax.vmap(jax.random.key)(np.arange(runs)), step=np.full((runs,), 7, np.int32))
    curves = {"val_acc": np.random.rand(runs, 4).astype(np.float32), "norm/W": np.full((runs, 4), np.nan, np.float32)}
    store = BatchCheckpoints(str(tmp_path), 0, n_real=2, options=CheckpointOptions(every=1, keep=1,
                                                                                  snapshot_steps=(20,)))
    store.after_eval(1, 20, state, curves, done=True)
    store.close()
    store = BatchCheckpoints(str(tmp_path), 0, n_real=2, options=CheckpointOptions())
    back = store.restore(jax.eval_shape(lambda: state), list(curves), 4)
    store.close()
    _same(back.state, state)
    _same(back.curves, curves)
    assert (back.t, back.done) == (1, True)
    snap = snapshots.read(str(tmp_path), 0, 20)  # params only, padding runs dropped
    np.testing.assert_array_equal(snap["W"], np.asarray(state.params["W"])[:2])


def test_resume_from_any_checkpoint_is_bit_identical(tmp_path):
    grid = small_grid()
    plain = run_sweep(CFG, grid, max_runs_per_batch=2, progress=False)
    options = CheckpointOptions(every=1, keep=5)
    first = run_sweep(CFG, grid, max_runs_per_batch=2, progress=False,
                      checkpoints=SweepCheckpoints(str(tmp_path), options))
    _same(first.curves, plain.curves)
    # An interruption: batch 0 finished, batch 1 back at its first checkpoint (step 20 of 60).
    batch1 = tmp_path / "checkpoints" / "batch_001"
    assert sorted(int(s) for s in os.listdir(batch1)) == [20, 40, 60]
    for step in ("40", "60"):
        shutil.rmtree(batch1 / step)
    resumed = run_sweep(CFG, grid, max_runs_per_batch=2, progress=False,
                        checkpoints=SweepCheckpoints(str(tmp_path), options))
    _same(resumed.curves, plain.curves)
    _same(resumed.params, plain.params)
    np.testing.assert_array_equal(resumed.diverged_step, plain.diverged_step)
    # Checkpoints of another sweep are refused, not restored.
    with pytest.raises(ConfigError, match="different configuration"):
        run_sweep(dataclasses.replace(CFG, steps=80), grid, max_runs_per_batch=2, progress=False,
                  checkpoints=SweepCheckpoints(str(tmp_path), options))


def test_finished_and_early_stopped_batches_are_read_back_not_retrained(tmp_path):
    cfg = dataclasses.replace(CFG, early_stop_val_acc=0.01)  # every batch stops after its first chunk
    grid = small_grid()
    first = run_sweep(cfg, grid, max_runs_per_batch=2, progress=False,
                      checkpoints=SweepCheckpoints(str(tmp_path), CheckpointOptions(every=0)))
    assert np.isnan(first.curves["val_acc"][:, 2:]).all()
    assert os.listdir(tmp_path / "checkpoints" / "batch_000") == ["20"]  # every=0: only the batch's end
    again = run_sweep(cfg, grid, max_runs_per_batch=2, progress=False,
                      checkpoints=SweepCheckpoints(str(tmp_path), CheckpointOptions(every=0)))
    _same(again.curves, first.curves)
    _same(again.params, first.params)


def test_changed_configuration_is_refused_and_overwrite_starts_over(tmp_path):
    grid = make_grid({"wd": 5.0}, [("frac", [0.3, 0.5])])
    saved = experiment_config(CFG, grid, ["frac"], 64)
    workdir = str(tmp_path / "w")
    assert prepare_workdir(workdir, saved) is False
    for name, text in (("config.json", json.dumps(saved)), ("summary.csv", "run\n0\n")):
        (tmp_path / "w" / name).write_text(text)
    assert prepare_workdir(workdir, saved) is True  # the same configuration resumes
    other = experiment_config(dataclasses.replace(CFG, steps=80), make_grid({"wd": 1.0}, [("frac", [0.3, 0.5])]),
                              ["frac"], 64)
    with pytest.raises(ConfigError) as err:
        prepare_workdir(workdir, other)
    message = str(err.value)
    assert "\n" not in message and "steps: 60 -> 80" in message and "wd: 5 -> 1" in message
    assert "--overwrite" in message and "frac" not in message
    assert (tmp_path / "w" / "summary.csv").read_text() == "run\n0\n"  # nothing overwritten
    (tmp_path / "w" / "notes.txt").write_text("mine")
    assert prepare_workdir(workdir, other, overwrite=True) is False
    assert sorted(os.listdir(tmp_path / "w")) == [".lock", "notes.txt"]  # only grokjax's outputs went


def _cli(workdir, *extra):
    return [sys.executable, SCRIPT, "--p=11", "--width=16", "--steps=400", "--eval_every=20", "--wd=1",
            "--grad_noise=0.01", "--x_axis=frac", "--x_values=0.3,0.5,0.7", "--max_runs_per_batch=2",
            "--checkpoint_every=2",
            "--snapshot_steps=log:3", "--progress=false", f"--workdir={workdir}", *extra]


def _results(workdir):
    with np.load(workdir / "metrics.npz") as m:
        return (workdir / "summary.csv").read_text(), {k: m[k] for k in m.files}


def test_killed_sweep_resumes_to_the_uninterrupted_result(tmp_path):
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    subprocess.run(_cli(reference), check=True, capture_output=True, env=subprocess_env(), timeout=300)
    proc = subprocess.Popen(_cli(killed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=subprocess_env())
    first = killed / "checkpoints" / "batch_000"
    deadline = time.time() + 240
    while time.time() < deadline and not (first.is_dir() and any(n.isdigit() for n in os.listdir(first))):
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL  # killed part-way, not finished
    assert not (killed / "curves.png").exists()
    again = subprocess.run(_cli(killed), capture_output=True, text=True, env=subprocess_env(), timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "resuming" in again.stdout
    csv_ref, npz_ref = _results(reference)
    csv_got, npz_got = _results(killed)
    assert csv_got == csv_ref
    assert npz_got.keys() == npz_ref.keys()
    for k in npz_ref:
        np.testing.assert_array_equal(npz_got[k], npz_ref[k], err_msg=k)
    for b in os.listdir(reference / "snapshots"):
        for f in os.listdir(reference / "snapshots" / b):
            assert (killed / "snapshots" / b / f).read_bytes() == (reference / "snapshots" / b / f).read_bytes()
    # The same workdir with another configuration: one line, nothing touched.
    before = (killed / "summary.csv").read_text()
    other = subprocess.run(_cli(killed, "--steps=600"), capture_output=True, text=True, env=subprocess_env(), timeout=300)
    lines = [line for line in other.stderr.splitlines() if line.strip()]
    assert other.returncode == 2 and len(lines) == 1, other.stderr
    assert lines[0].startswith("error: ") and "steps: 400 -> 600" in lines[0] and "--overwrite" in lines[0]
    assert (killed / "summary.csv").read_text() == before


def test_sigterm_stops_at_the_next_evaluation_with_a_checkpoint_and_resumes_exactly(tmp_path):
    # SIGTERM (what SLURM sends before a time limit) or Ctrl-C during the 2nd chunk: the chunk
    # finishes, is checkpointed although checkpoint_every would not save it, and training stops.
    grid = small_grid()
    options = CheckpointOptions(every=100)
    cfg = sweep.features_for(CFG, grid)
    trainer = sweep.BatchTrainer(cfg, sweep.run_fns_for(cfg, grid, sweep.operation_dataset(CFG.op, CFG.p)))
    compiled, calls = trainer.chunk, []

    def chunk_sending_sigterm(n_steps, rows=None):
        fn = compiled(n_steps, rows)

        def call(*args):
            out = fn(*args)
            calls.append(n_steps)
            if len(calls) == 2:
                os.kill(os.getpid(), signal.SIGTERM)
            return out
        return call
    trainer.chunk = chunk_sending_sigterm
    checkpoints = SweepCheckpoints(str(tmp_path), options)
    with pytest.raises(KeyboardInterrupt, match="stopped at step 40"):
        sweep.train_grid(trainer, grid, checkpoints=checkpoints, progress=False)
    assert os.listdir(tmp_path / "checkpoints" / "batch_000") == ["40"]  # every=100 alone saves none
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handlers restored
    resumed = run_sweep(CFG, grid, checkpoints=SweepCheckpoints(str(tmp_path), options), progress=False)
    uninterrupted = run_sweep(CFG, grid, progress=False)
    for k in uninterrupted.curves:
        np.testing.assert_array_equal(resumed.curves[k], uninterrupted.curves[k], err_msg=k)
