"""experiments/phase_diagram.py end to end, and its one-line errors for bad input."""
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(REPO, "experiments", "phase_diagram.py")
QUICKSTART = os.path.join(REPO, "experiments", "flags", "quickstart.flags")
TINY = ["--p=11", "--width=16", "--steps=40", "--eval_every=20", "--progress=false"]


def run(*args):
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, env=env, timeout=300)


def test_quickstart_flagfile_writes_every_promised_file(tmp_path):
    workdir = tmp_path / "quick"
    # The quickstart's own settings, shortened so the test stays fast.
    proc = run(f"--flagfile={QUICKSTART}", "--steps=100", "--eval_every=50", "--progress=false",
               f"--workdir={workdir}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    for name in ("config.json", "flags.txt", "summary.csv", "metrics.npz", "final_train_acc.png",
                 "final_val_acc.png", "phase_diagram.png", "curves.png"):
        assert (workdir / name).stat().st_size > 0, name
    summary = pd.read_csv(workdir / "summary.csv")
    assert len(summary) == 36
    for column in ("frac", "xi", "wd", "lr", "model_seed", "data_seed", "final_val_acc", "phase", "diverged"):
        assert column in summary.columns
    assert set(np.round(summary["frac"], 3)) == {0.3, 0.4, 0.5, 0.6, 0.7, 0.8}
    metrics = np.load(workdir / "metrics.npz")
    assert list(metrics["steps"]) == [0, 50, 100]
    assert metrics["val_acc"].shape == (36, 3)
    # flags.txt reruns the experiment.
    assert "--x_axis=frac" in (workdir / "flags.txt").read_text()


# Every flagfile phase_diagram.py takes, checked as the script checks it before training: parsed,
# validated, the grid built and one run sized (cli.sweep_plan writes nothing). One process: seconds.
FLAGFILE_CHECK = """
import glob
from absl import flags
from grokjax import cli
cli.define_flags()
files = sorted(glob.glob("experiments/flags/doshi2024_*.flags")) + [
    "experiments/flags/nanda2023_modadd.flags", "experiments/flags/quickstart.flags"]
for f in files:
    flags.FLAGS.unparse_flags()
    flags.FLAGS(["phase_diagram.py", "--flagfile=" + f, "--workdir=/nonexistent/never_written"])
    cli.sweep_plan()
print(len(files))
"""


def test_every_phase_diagram_flagfile_is_valid():
    proc = subprocess.run([sys.executable, "-c", FLAGFILE_CHECK], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "JAX_PLATFORMS": "cpu"}, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert int(proc.stdout.split()[-1]) >= 40  # 49 Doshi et al. flagfiles, the Nanda et al. one, the quickstart


@pytest.mark.parametrize("args,needle", [
    (["--op=foo"], "--op=foo"),
    (["--op=div", "--p=98"], "--p=98"),
    (["--x_axis=frac", "--x_values=0.5,1.5"], "--frac=1.5"),
    (["--frac=0"], "--frac=0"),
    (["--frac=1"], "--frac=1"),
    (["--x_axis=frac", "--x_values=0.5,1"], "--frac=1"),
    (["--xi=1.0"], "--xi=1"),
    (["--x_axis=xi", "--x_values=0:1:3"], "--xi=1"),
    (["--steps=0"], "--steps=0"),
    (["--width=-3"], "--width=-3"),
    (["--x_axis=depth", "--x_values=1,2"], "--x_axis='depth'"),
    (["--x_axis=frac", "--x_values=a:b"], "--x_values"),
    (["--loss=hinge"], "--loss=hinge"),
    (["--workdir="], "--workdir"),
    (["--p=abc"], "--p=abc"),
    (["--nonsense=1"], "nonsense"),
    (["stray"], "unexpected arguments: stray"),
    (["--matmul_dtype=float16"], "--matmul_dtype=float16"),
    (["--init=xavier"], "--init=xavier is not allowed; choose one of: doshi, standard, lazy"),
    (["--model=transformer", "--activation=relu", "--init=lazy"], "--init=lazy is for the MLP"),
    (["--num_shards=2", "--shard_index=2"], "--shard_index=2"),
])
def test_bad_input_gets_one_clear_line(tmp_path, args, needle):
    workdir = [] if any(a.startswith("--workdir") for a in args) else [f"--workdir={tmp_path / 'w'}"]
    proc = run(*TINY, *workdir, *args)
    assert proc.returncode != 0
    lines = [l for l in proc.stderr.strip().splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "w" / "summary.csv").exists()  # nothing half-written


def test_used_or_unwritable_workdir_is_refused(tmp_path):
    used = tmp_path / "used"
    used.mkdir()
    (used / "summary.csv").write_text("run\n0\n")
    proc = run(*TINY, f"--workdir={used}")
    assert proc.returncode != 0 and "already holds results" in proc.stderr
    assert (used / "summary.csv").read_text() == "run\n0\n"
    blocker = tmp_path / "file"
    blocker.write_text("x")
    proc = run(*TINY, f"--workdir={blocker}")
    assert proc.returncode != 0 and "not a directory" in proc.stderr


def test_sigterm_stops_with_one_line_and_a_checkpoint(tmp_path):
    import signal
    import time

    workdir = tmp_path / "long"
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    # Far more steps than the test waits for: it is stopped once its first checkpoint exists.
    proc = subprocess.Popen([sys.executable, SCRIPT, "--p=11", "--width=16", "--steps=10000000", "--eval_every=1000",
                             "--checkpoint_every=1", "--progress=false", "--x_axis=wd", "--x_values=0,1",
                             f"--workdir={workdir}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    batch = workdir / "checkpoints" / "batch_000"
    deadline = time.time() + 120
    while not (batch.is_dir() and any(n.isdigit() for n in os.listdir(batch))) and time.time() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr[-2000:]
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1].startswith("stopped at step ") and "rerun the same command" in stderr
    steps = sorted(int(n) for n in os.listdir(batch) if n.isdigit())
    assert steps and f"stopped at step {steps[-1]}," in stderr  # the last checkpoint is where it stopped
