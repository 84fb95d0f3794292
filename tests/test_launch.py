"""launch/gpu_check.sh on the CPU with its tiny budget: every part runs and writes its numbers."""
import os
import subprocess

import pandas as pd

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_gpu_check_tiny_budget_writes_its_numbers(tmp_path):
    out, runs = tmp_path / "out", tmp_path / "runs"
    done = subprocess.run(["bash", os.path.join(REPO, "launch", "gpu_check.sh"), str(out), str(runs)],
                          env={**os.environ, "GPU_CHECK_TINY": "1"}, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    step = pd.read_csv(out / "step.csv")
    assert set(step["R"]) == {1, 2} and (step["ms/run-step"] > 0).all()
    table = pd.read_csv(out / "fig2_right.csv")
    assert set(table["sweep"]) == {"add"} and set(table["frac"]) == {0.5}
    assert (table["steps_reached"] == 40).all() and table["best_val_acc_mean"].between(0, 1).all()
    assert "figure 2 right" in (out / "device.txt").read_text()
