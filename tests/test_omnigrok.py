"""Omnigrok building blocks: teacher-student data, reduced landscapes at constant norm, fits.
(The vector MLP, LSTM and GCN are tested in test_models.py.)"""
import numpy as np
from tolerances import U32

from grokjax.analysis.landscape import landscape_sweep, loglog_slope, lu_shape, reduced_landscape, steps_to
from grokjax.config import StaticConfig
from grokjax.data.teacher_student import teacher_student_dataset
from grokjax.models.vector_mlp import make_vector_mlp


def test_teacher_student_data_is_a_fixed_regression_split():
    ds = teacher_student_dataset(width=16, n_train=20, n_test=30, seed=1)
    assert ds.inputs.shape == (50, 5) and ds.targets.shape == (50, 5) and ds.n_classes == 0
    assert ds.held_out.sum() == 30 and not ds.held_out[:20].any()
    again = teacher_student_dataset(width=16, n_train=20, n_test=30, seed=1)
    np.testing.assert_array_equal(ds.targets, again.targets)
    assert np.all(np.abs(ds.targets) < 10) and ds.targets.std() > 0.01


def test_reduced_landscape_grid_is_at_constant_norm():
    ds = teacher_student_dataset(width=16, n_train=20, n_test=20)
    model = make_vector_mlp([5, 16, 16, 5], activation="tanh")
    cfg = StaticConfig(loss="mse", optimizer="adam", steps=40, eval_every=20)
    land = reduced_landscape(cfg, {"lr": 1e-2, "frac": 1.0}, [0.5, 1.0, 4.0], [0.5, 1.0], dataset=ds, model=model,
                             progress=False)
    assert land.metrics["train_loss"].shape == (2, 3)
    norms = land.metrics["weight_norm"]
    # A global norm sums K = 453 positive squares: relative error <= K u, once when the projection
    # measures it and once when the metric does; x4 safety.
    norm_rtol = 4 * 2 * 453 * U32
    np.testing.assert_allclose(norms[:, 2] / norms[:, 0], 8.0, rtol=2 * norm_rtol)
    assert bool(land.result.cfg.constrain_norm) and np.all(land.result.grid["wd"] == 0)
    assert np.all(np.isfinite(land.metrics["val_loss"]))
    # StaticConfig.constrain_norm: the norm stays at alpha * w0 through training, while training works.
    curves = land.result.curves
    np.testing.assert_allclose(curves["weight_norm"], curves["weight_norm"][:, :1] * np.ones((1, 3)), rtol=norm_rtol)
    assert np.all(curves["train_loss"][:, -1] < curves["train_loss"][:, 0])


def test_landscape_runs_are_grouped_by_frac():
    # A batch pads every run to its largest frac: consecutive runs of one frac keep the
    # small fractions cheap under --max_runs_per_batch=len(alphas) * seeds.
    _, grid = landscape_sweep(StaticConfig(), {"lr": 1e-3}, [0.5, 1.0, 2.0], [0.2, 0.6], seeds=2)
    np.testing.assert_array_equal(grid["frac"], np.float32([0.2] * 6 + [0.6] * 6))
    np.testing.assert_array_equal(grid["alpha"][:6], [0.5, 0.5, 1.0, 1.0, 2.0, 2.0])
    np.testing.assert_array_equal(grid["model_seed"][:6], [0, 1] * 3)


def test_lu_shape_and_loglog_slope():
    alphas = np.geomspace(0.25, 8, 6)
    shape = lu_shape(1 / (1 + alphas ** 4), (np.log(alphas)) ** 2 + 0.1)
    assert shape["train_is_L"] and shape["test_is_U"]
    assert not lu_shape(alphas, alphas)["test_is_U"]
    wd = np.geomspace(0.1, 1, 5)
    slope, _ = loglog_slope(wd, 300 / wd)
    np.testing.assert_allclose(slope, -1.0, rtol=1e-6)
    steps = np.array([0, 10, 20])
    times = steps_to({"train_acc": np.array([[0, 1.0, 1]]), "val_acc": np.array([[0, 0.5, 0.96]])}, steps, 0.95)
    assert times["train"][0] == 10 and times["test"][0] == 20


def test_omnigrok_script_writes_a_set_of_run_directories_and_reads_it_back(tmp_path):
    import os
    import subprocess
    import sys

    from conftest import subprocess_env

    from grokjax.train import run_dir
    script = os.path.join(os.path.dirname(__file__), "..", "experiments", "omnigrok_teacher_student.py")
    args = [sys.executable, script, "--activation=tanh", "--width=8", "--steps=20", "--eval_every=10", "--lr=0.01", "--parts=dynamics",
            "--dyn_alphas=1", "--dyn_wds=0,0.1", "--progress=false", f"--workdir={tmp_path}"]
    out = subprocess.run(args, capture_output=True, text=True, env=subprocess_env(), timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    dynamics = run_dir.SweepSet(str(tmp_path)).open("dynamics")
    assert dynamics.config["extra"]["dataset"] and dynamics.progress["complete"]
    assert len(dynamics.stream()) == 2 * 3 and (tmp_path / "sweeps" / "dynamics" / "curves.png").exists()
    again = subprocess.run(args, capture_output=True, text=True, env=subprocess_env(), timeout=300)
    assert again.returncode == 0 and "reading back the finished sweep" in again.stdout, again.stderr[-2000:]
    # A part saved with other settings: one line, and the set (its flags.txt too) left as it was.
    listing = lambda: {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}  # noqa: E731
    before = listing()
    changed = subprocess.run([*args, "--dyn_wds=0,0.2"], capture_output=True, text=True, env=subprocess_env(),
                             timeout=300)
    assert changed.returncode != 0 and changed.stderr.strip().count("\n") == 0, changed.stderr[-2000:]
    assert "different configuration" in changed.stderr and listing() == before


def test_wd_scan_runs_first_with_each_weight_decays_seeds_together(tmp_path):
    """--max_runs_per_batch=--seeds batches one weight decay's seeds (so early stopping stops each wd as it
    groks); the curve panels follow, and empty --dyn_wds draws none."""
    import json
    import os
    import subprocess
    import sys

    from conftest import subprocess_env

    from grokjax.train import run_dir
    script = os.path.join(os.path.dirname(__file__), "..", "experiments", "omnigrok_teacher_student.py")
    base = [sys.executable, script, "--activation=tanh", "--width=8", "--steps=20", "--eval_every=10", "--lr=0.01",
            "--parts=dynamics", "--scan_wds=0.1,1", "--seeds=2", "--max_runs_per_batch=2", "--progress=false"]
    for dyn_wds, panels in (("", False), ("0", True)):
        workdir = tmp_path / f"dyn{dyn_wds}"
        out = subprocess.run([*base, "--dyn_alphas=1", f"--dyn_wds={dyn_wds}", f"--workdir={workdir}"],
                             capture_output=True, text=True, env=subprocess_env(), timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
        summary = run_dir.SweepSet(str(workdir)).open("dynamics").summary()
        expected = [0.1, 0.1, 1.0, 1.0] + ([0.0] if panels else [])
        np.testing.assert_allclose(summary["wd"], expected, rtol=1e-6)
        assert list(summary["model_seed"][:4]) == [0, 1, 0, 1]
        part = workdir / "sweeps" / "dynamics"
        assert (part / "curves.png").exists() == panels
        np.testing.assert_allclose(json.loads((part / "time_vs_wd.json").read_text())["wd"], expected[:4], rtol=1e-6)


def test_scan_extend_joins_an_earlier_scan_and_refuses_another_experiment(tmp_path):
    """--scan_extend: an earlier run's finished wd scan joins the fit and the plot, its points kept apart
    from this run's own in time_vs_wd.json; a run with other settings is refused in one line, before
    anything is written."""
    import json
    import os
    import subprocess
    import sys

    from conftest import subprocess_env
    script = os.path.join(os.path.dirname(__file__), "..", "experiments", "omnigrok_teacher_student.py")
    base = [sys.executable, script, "--activation=tanh", "--width=8", "--eval_every=10", "--lr=0.01",
            "--parts=dynamics", "--dyn_wds=", "--seeds=2", "--progress=false"]
    run = lambda *extra: subprocess.run([*base, *extra], capture_output=True, text=True,  # noqa: E731
                                        env=subprocess_env(), timeout=300)
    first = tmp_path / "high_wd"
    assert run("--scan_wds=1", "--steps=20", f"--workdir={first}").returncode == 0
    # The extension may run longer (steps) than the scan it extends.
    later = tmp_path / "low_wd"
    out = run("--scan_wds=0.1", "--steps=30", f"--scan_extend={first}", f"--workdir={later}")
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads((later / "sweeps" / "dynamics" / "time_vs_wd.json").read_text())
    np.testing.assert_allclose(report["wd"], [0.1, 0.1], rtol=1e-6)
    np.testing.assert_allclose(report["wd_all"], [0.1, 0.1, 1.0, 1.0], rtol=1e-6)
    assert report["extended_by"] == [str(first)] and report["threshold"] == 0.95
    earlier = json.loads((first / "sweeps" / "dynamics" / "time_vs_wd.json").read_text())
    np.testing.assert_array_equal(report["steps_test_all"][2:], earlier["steps_test"])
    # A scan saved before a setting existed: the setting counts as its default there, as on resume.
    saved = first / "sweeps" / "dynamics" / "config.json"
    config = json.loads(saved.read_text())
    del config["static"]["measures"]
    saved.write_text(json.dumps(config))
    out = run("--scan_wds=0.1", "--steps=30", f"--scan_extend={first}", f"--workdir={tmp_path / 'older'}")
    assert out.returncode == 0, out.stderr[-2000:]
    for bad, named in ((["--lr=0.02"], "lr: 0.01 -> 0.02"), (["--threshold=0.9"], "threshold: 0.95 -> 0.9"),
                       (["--width=16"], "width: 8 -> 16")):
        refused_dir = tmp_path / "refused"
        out = run("--scan_wds=0.1", "--steps=30", f"--scan_extend={first}", f"--workdir={refused_dir}", *bad)
        assert out.returncode != 0 and out.stderr.strip().count("\n") == 0, out.stderr[-2000:]
        assert named in out.stderr and not refused_dir.exists(), out.stderr
    out = run("--scan_wds=0.1", f"--scan_extend={tmp_path / 'nothing'}", f"--workdir={tmp_path / 'x'}")
    assert out.returncode != 0 and "holds no finished weight-decay scan" in out.stderr, out.stderr
