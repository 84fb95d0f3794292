"""A multi-host sweep (2 processes x 2 CPU devices, jax.distributed) stopped part way resumes from its
checkpoints and equals the sweep trained in one process."""
import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
from conftest import assert_results_close, subprocess_env
from tolerances import assert_f32_close, f32_rtol

from grokjax import cli

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# 6 runs in batches of 4 (the devices of both processes): the second batch is padded. Both batches
# hold frac 0.7, so they share one compiled chunk.
FLAGS = ["--op=add", "--p=11", "--width=16", "--steps=100", "--eval_every=20", "--lr=0.01", "--wd=1",
         "--x_axis=xi", "--x_values=0,0.2", "--y_axis=frac", "--y_values=0.3,0.5,0.7",
         "--max_runs_per_batch=4", "--checkpoint_every=2", "--snapshot_steps=20,60", "--progress=false"]

# launch/sweep.py, with process 1 sending itself SIGTERM after its 3rd chunk (step 60 of batch 0) when
# STOP_AFTER_CHUNKS=3: a deterministic stand-in for SLURM's SIGTERM reaching one task of the job.
SWEEP = textwrap.dedent("""
    import os, runpy, signal, sys
    from grokjax.train import sweep
    stop_after = int(os.environ.get("STOP_AFTER_CHUNKS", "0"))
    if stop_after and os.environ["JAX_PROCESS_ID"] == "1":
        compiled, calls = sweep.BatchTrainer.chunk, []

        def chunk(self, n_steps, rows=None):
            fn = compiled(self, n_steps, rows)

            def call(*args):
                out = fn(*args)
                calls.append(n_steps)
                if len(calls) == stop_after:
                    os.kill(os.getpid(), signal.SIGTERM)
                return out
            return call
        sweep.BatchTrainer.chunk = chunk
    sys.argv = ["sweep.py", *sys.argv[1:]]
    runpy.run_path(os.path.join(%r, "launch", "sweep.py"), run_name="__main__")
""" % REPO)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def launch_two_processes(workdir, *extra: str, stop_after_chunks: int = 0) -> list[subprocess.CompletedProcess]:
    """What launch/multihost_local.sh 2 does: 2 processes x 2 forced CPU devices."""
    port, procs = _free_port(), []
    for i in range(2):
        env = subprocess_env(JAX_COORDINATOR_ADDRESS=f"localhost:{port}", JAX_NUM_PROCESSES="2",
                             JAX_PROCESS_ID=str(i), STOP_AFTER_CHUNKS=str(stop_after_chunks),
                             XLA_FLAGS=f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=2")
        procs.append(subprocess.Popen([sys.executable, "-c", SWEEP, *FLAGS, *extra, f"--workdir={workdir}"], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=240)
        out.append(subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr))
    return out


def one_process(workdir) -> None:
    """The same flags trained in this process (one device, no distributed runtime)."""
    cli.define_flags()
    cli.FLAGS.unparse_flags()
    try:
        cli.FLAGS(["phase_diagram", *FLAGS, f"--workdir={workdir}"])
        cli.run_plan(cli.sweep_plan())
    finally:
        cli.FLAGS.unparse_flags()


def test_stopped_multihost_sweep_resumes_to_the_one_process_result(tmp_path):
    stopped = launch_two_processes(tmp_path / "multi", stop_after_chunks=3)
    for p in stopped:  # both stop after the same chunk although only process 1 got the signal
        assert p.returncode != 0 and "stopped at step 60, checkpointed" in p.stderr, p.stderr[-3000:]
    batch_0 = tmp_path / "multi" / "checkpoints" / "batch_000"
    assert sorted(os.listdir(batch_0)) == ["40", "60"]  # every 2 chunks, and the forced one at 60
    assert not (tmp_path / "multi" / "checkpoints" / "batch_001").exists()
    assert not (tmp_path / "multi" / "summary.csv").exists()
    shards = os.listdir(batch_0 / "60" / "default")
    assert {"ocdbt.process_0", "ocdbt.process_1"} <= set(shards)  # each process wrote its own shards

    resumed = launch_two_processes(tmp_path / "multi")
    assert [p.returncode for p in resumed] == [0, 0], resumed[1].stderr[-3000:]
    assert "resuming the sweep" in resumed[0].stdout
    assert json.loads((tmp_path / "multi" / "progress.json").read_text())["complete"]

    # Another configuration in the same workdir: process 0 refuses it, and every process exits with its line.
    refused = launch_two_processes(tmp_path / "multi", "--steps=120")
    for p in refused:
        assert p.returncode == 2 and "steps: 100 -> 120" in p.stderr.strip().splitlines()[-1], p.stderr[-3000:]

    one_process(tmp_path / "one")
    assert len(pd.read_csv(tmp_path / "multi" / "summary.csv")) == 6
    # 4 devices in 2 processes vs 1 device: the same runs, up to float32 reassociation (docs/checkpoints.md):
    # p = 11 (<= 121-row sums), 100 steps; atol for metrics near 0 (losses and accuracies are <= ~1).
    rtol = f32_rtol(121, steps=100)
    assert_results_close(tmp_path / "multi", tmp_path / "one", rtol=rtol, atol=rtol)
    for step in (20, 60):  # snapshots: process 0 wrote every run's parameters, gathered from both
        with np.load(tmp_path / "multi" / "snapshots" / "batch_001" / f"step_{step:08d}.npz") as a, \
                np.load(tmp_path / "one" / "snapshots" / "batch_001" / f"step_{step:08d}.npz") as b:
            for k in b.files:
                assert a[k].shape == b[k].shape == (2, *b[k].shape[1:])  # the padding run dropped
                assert_f32_close({k: a[k]}, {k: b[k]}, k=121, steps=step)
