"""Omnigrok Sec. 5.1 toy model: the task, the (w, m) landscape trainer, the Eq. 6 trajectory, the script."""
import os
import subprocess
import sys

import numpy as np
from tolerances import U32

from grokjax.analysis.representation import (decoder, init_norm, reduced_trajectory, representation,
                                             representation_landscape, toy_addition)
from grokjax.config import StaticConfig

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "experiments", "omnigrok_representation.py")


def test_task_pairs_and_the_two_end_representations():
    task = toy_addition(p=6, d_out=7, seed=3)
    assert task.size == 21 and task.templates.shape == (11, 7)
    i, j = task.pairs.T
    assert np.all(i <= j) and np.array_equal(task.sums, i + j) and len({tuple(x) for x in task.pairs}) == 21
    lin, rnd = np.asarray(representation(task, 0.0)), np.asarray(representation(task, 1.0))
    np.testing.assert_allclose(rnd, task.r_random)
    np.testing.assert_allclose([lin.mean(), lin.std()], [0, 1], atol=1e-6)
    # The linear representation makes E_i + E_j a function of i + j alone: the generalizing one.
    sum_lin = (lin[i] + lin[j])[:, 0]
    for k in np.unique(task.sums):
        assert np.ptp(sum_lin[task.sums == k]) < 1e-6
    sum_rnd = (rnd[i] + rnd[j])[:, 0]
    assert np.ptp(sum_rnd[task.sums == 6]) > 1e-3
    vec = toy_addition(p=6, rep_dim=3)
    assert vec.r_linear.shape == (6, 3) and np.all(vec.r_linear[:, 1:] == 0)


def test_landscape_is_at_constant_norm_and_linear_representation_generalizes():
    task = toy_addition(p=6, d_out=8, seed=0)
    cfg = StaticConfig(optimizer="adam", beta2=0.999, steps=300, eval_every=100)
    land = representation_landscape(cfg, task, [1.0, 2.0], [0.0, 1.0], [10, 15], lr=1e-2, width=16, progress=False)
    assert land.metrics["train_loss"].shape == (2, 2, 2)
    curves, grid = land.result.curves, land.result.grid
    # Every run stays on its sphere |w| = alpha * w0 while the training loss falls.
    w0 = init_norm(decoder(16, 8), [0])
    # The decoder's 440 parameters: a sum of K = 440 positive squares (<= K u) when the projection
    # and when the metric measure the norm, and another program for w0; x4 safety.
    np.testing.assert_allclose(curves["weight_norm"], (grid["alpha"] * w0)[:, None] * np.ones((1, 4)),
                               rtol=4 * 3 * 440 * U32)
    assert np.all(curves["train_loss"][:, -1] < curves["train_loss"][:, 0])
    # Split sizes as asked, nested for one data seed.
    train_counts = np.round(land.result.grid["frac"] * task.size - 0.5)
    np.testing.assert_array_equal(train_counts, grid["n_train"])
    # The linear representation (m = 0) generalizes at w = 2 w0; the random one (m = 1) does not.
    test_acc = land.metrics["val_acc"]  # (sizes, m, alpha)
    assert test_acc[1, 0, 1] >= 0.8 and test_acc[1, 1, 1] <= 0.5


def test_reduced_trajectory_follows_eq6():
    log_w, ms = np.log(np.geomspace(1, 100, 12)), np.linspace(0, 1, 8)
    # Flat landscape: only the decay acts, w(t) = w0 (1 - dt eta gamma)^t and m stays put.
    path = reduced_trajectory(log_w, ms, np.zeros((8, 12)), (50.0, 0.7), eta_d=2.0, eta_r=1.0, gamma=0.01,
                              dt=1.0, n_steps=30)
    np.testing.assert_allclose(path[:, 0], 50.0 * 0.98 ** np.arange(31), rtol=1e-6)
    np.testing.assert_allclose(path[:, 1], 0.7, atol=1e-9)
    # A loss rising in m pulls m down at rate eta_R dl/dm (= 0.5 per unit time here), clipped at 0.
    path = reduced_trajectory(log_w, ms, np.tile(0.5 * ms[:, None], (1, 12)), (10.0, 0.9), eta_d=1.0, eta_r=1.0,
                              gamma=0.0, dt=0.1, n_steps=100)
    np.testing.assert_allclose(path[:5, 1], 0.9 - 0.05 * np.arange(5), atol=1e-6)
    assert path[-1, 1] == 0.0 and np.allclose(path[:, 0], 10.0)


def test_script_refuses_a_bad_flag_in_one_line(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.path.join(os.path.dirname(__file__), "..")}
    out = subprocess.run([sys.executable, SCRIPT, "--p=5", "--n_trains=10", "--messiness=0,2", f"--workdir={tmp_path}"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "--messiness" in out.stderr


def test_script_end_to_end(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.path.join(os.path.dirname(__file__), "..")}
    args = ["--p=5", "--width=8", "--steps=20", "--eval_every=10", "--optimizer=adam", "--lr=0.01",
            "--alphas=0.5,1,2", "--messiness=0,0.5,1", "--n_trains=8,12", "--traj_steps=20", "--progress=false",
            f"--workdir={tmp_path}"]
    out = subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    for name in ("summary.csv", "landscape.npz", "trajectory.csv", "wm_landscape.png", "wm_size_contours.png",
                 "wm_path_losses.png", "flags.txt", "config.json"):
        assert os.path.exists(tmp_path / name), name
    data = np.load(tmp_path / "landscape.npz")
    assert data["reduced__val_loss"].shape == (2, 3, 3)
    np.testing.assert_allclose(data["ws"], data["alphas"] * data["w0"], rtol=1e-6)
    # The same flags again resume (read back) instead of refusing the used workdir.
    again = subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, env=env, timeout=300)
    assert again.returncode == 0 and "reading back the finished sweep" in again.stdout
    np.testing.assert_allclose(np.load(tmp_path / "landscape.npz")["reduced__val_loss"], data["reduced__val_loss"])
