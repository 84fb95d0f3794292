"""python -m grokjax.inspect: overview, single-run extraction, and one clear line for bad workdirs."""
import json
import os
import subprocess
import sys

import chex
import jax
import numpy as np
import pytest
from tolerances import assert_f32_close

from grokjax import inspect
from grokjax.checkpoint.store import CheckpointOptions
from grokjax.config import StaticConfig
from grokjax.train.experiment import run_grid_experiment
from grokjax.train.sweep import make_grid, run_sweep


CFG = StaticConfig(op="add", p=11, width=16, steps=60, eval_every=20)  # as tests/test_checkpoint.py
GRID = make_grid({"lr": 0.01, "grad_noise": 0.01}, [("wd", [1.0, 5.0]), ("frac", [0.5, 0.7])])


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    path = tmp_path_factory.mktemp("sweep")
    run_grid_experiment(CFG, GRID, str(path), ["wd", "frac"], max_runs_per_batch=2, progress=False,
                        checkpoint=CheckpointOptions(every=1, snapshot_steps=(0, 20), snapshot_dtype="float16"))
    return path


def test_single_run_extraction_equals_the_run_trained_alone(workdir):
    alone = run_sweep(CFG, {k: v[[3]] for k, v in GRID.items()}, progress=False)
    config, params, metrics = inspect.load_run(str(workdir), 3)
    assert config.step == 60 and config.static == CFG
    assert (config.hparams["wd"], config.hparams["frac"]) == pytest.approx((5.0, 0.7))
    # Trained in a batch of 2 vs alone: two programs; p = 11 (<= 121-row sums), 60 steps.
    assert_f32_close(params, jax.tree.map(lambda a: a[0], alone.params), k=121, steps=60)
    for name in ("train_acc", "val_acc", "weight_norm"):
        assert_f32_close(metrics[name], alone.curves[name][0], k=121, steps=60)
    _, early, _ = inspect.load_run(str(workdir), 3, step=20)  # a float16 snapshot
    assert early["W"].dtype == np.float16
    sweep = inspect.load_sweep(str(workdir))
    assert sweep.curves["val_acc"].shape == (4, 4) and list(sweep.params_step) == [60] * 4
    np.testing.assert_array_equal(sweep.params["W"][3], params["W"])


def test_a_relative_workdir_reads_like_an_absolute_one(workdir, monkeypatch):
    monkeypatch.chdir(workdir.parent)  # Orbax refuses relative paths; the reader makes them absolute
    for step in (None, 20):  # the final checkpoint (Orbax) and a snapshot
        _, relative, _ = inspect.load_run(workdir.name, 1, step=step)
        _, absolute, _ = inspect.load_run(str(workdir), 1, step=step)
        chex.assert_trees_all_equal(relative, absolute)
    assert inspect.main([workdir.name]) == 0


def run_main(capsys, *args):
    code = inspect.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_overview_prints_config_saved_steps_and_a_row_per_run(workdir, capsys):
    code, out, err = run_main(capsys, workdir)
    assert code == 0 and not err
    assert "(complete)" in out and "steps=60" in out and "eval_every=20" in out
    assert "checkpoints: steps 40, 60 (each of 2 batches)" in out
    assert "snapshots: steps 0, 20 (each of 2 batches)" in out
    header = next(line for line in out.splitlines() if line.lstrip().startswith("run"))
    for column in ("wd", "frac", "final_train_acc", "final_val_acc", "step_val_99", "diverged", "status"):
        assert column in header
    assert sum(line.rstrip().endswith("done") for line in out.splitlines()) == 4


def test_where_and_step_extract_one_run(workdir, capsys, tmp_path):
    out_file = tmp_path / "params.npz"
    code, out, err = run_main(capsys, workdir, "--where=wd=5,frac=0.7", "--step=20", f"--out={out_file}")
    assert code == 0, err
    assert out.startswith("run 3 at step 20")
    _, params, _ = inspect.load_run(str(workdir), 3, step=20)
    with np.load(out_file) as saved:
        assert sorted(saved.files) == ["U", "V", "W"] and saved["W"].dtype == np.float16
        np.testing.assert_array_equal(saved["W"], params["W"])
    code, out, _ = run_main(capsys, workdir, "--run=2")  # latest: the final checkpoint
    assert code == 0 and out.startswith("run 2 at step 60")


def test_a_partial_workdir_shows_what_there_is(workdir, tmp_path, capsys):
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "config.json").write_text((workdir / "config.json").read_text())  # killed before any checkpoint
    code, out, _ = run_main(capsys, partial)
    assert code == 0 and "checkpoints: steps none" in out and "pending" in out
    code, _, err = run_main(capsys, partial, "--run=0")
    assert code == 2 and err.startswith("error: ") and "no checkpoints yet" in err


@pytest.mark.parametrize("make,args,needle", [
    (lambda d: None, [], "does not exist"),
    (lambda d: d.write_text("x"), [], "not a directory"),
    (lambda d: d.mkdir(), [], "not a grokjax workdir"),
    (lambda d: (d.mkdir(), (d / "config.json").write_text("{oops")), [], "config.json is not a grokjax"),
    (lambda d: (d.mkdir(), (d / "config.json").write_text(json.dumps({"static": {}}))), [], "no 'grid'"),
    ("sweep", ["--run=9"], "run 9 does not exist"),
    ("sweep", ["--where=wd=5"], "matches 2 runs"),
    ("sweep", ["--where=lr=3"], "matches no run; the sweep has lr: 0.01"),
    ("sweep", ["--where=depth=1"], "names from"),
    ("sweep", ["--run=1", "--step=30"], "step 30 is not saved"),
    ("sweep", ["--step=20"], "need a run"),
])
def test_bad_workdirs_and_selections_get_one_line(workdir, tmp_path, capsys, make, args, needle):
    target = workdir if make == "sweep" else tmp_path / "d"
    if make != "sweep":
        make(target)
    code, out, err = run_main(capsys, target, *args)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], err


def test_module_entry_point(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "grokjax.inspect", str(tmp_path / "nowhere")], capture_output=True,
                          text=True, env={**os.environ, "JAX_PLATFORMS": "cpu"}, timeout=120)
    assert proc.returncode == 2 and proc.stderr.strip() == f"error: {tmp_path / 'nowhere'} does not exist"
