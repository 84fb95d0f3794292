"""Runs sharded across devices: identical to one device; memory per run is predictable."""
import os
import subprocess
import sys
import textwrap

from grokjax.data.datasets import operation_dataset
from grokjax.train import devices
from grokjax.train.run import make_run_fns
from grokjax.train.sweep import BatchTrainer, make_grid

TESTS = os.path.dirname(os.path.abspath(__file__))

# Run in a fresh process: the device count is fixed when JAX starts.
FOUR_DEVICES = textwrap.dedent(f"""
    import sys
    import jax, numpy as np
    sys.path.insert(0, {TESTS!r})
    from tolerances import assert_f32_close
    from grokjax.config import StaticConfig
    from grokjax.train import sweep
    assert jax.device_count() == 4, jax.devices()
    cfg = StaticConfig(op="add", p=11, width=32, steps=40, eval_every=20, batch_size=16, loss="ce")
    grid = sweep.make_grid({{"lr": 0.01, "wd": 1.0}}, [("frac", [0.3, 0.5, 0.7]), ("xi", [0.0, 0.2])])
    grid["dropout"][1] = 0.1
    trainer = sweep.BatchTrainer(cfg, sweep.make_run_fns(cfg, sweep.operation_dataset("add", 11)))
    state = trainer.init(trainer.place(sweep._pad(grid, np.arange(4), 4)))
    assert len(state.params["U"].sharding.device_set) == 4  # the run axis really is split
    sharded = sweep.run_sweep(cfg, grid, max_runs_per_batch=4, progress=False)  # batches 4 + 2 (padded)
    sweep._run_mesh = lambda: None  # the same sweep on one device
    single = sweep.run_sweep(cfg, grid, max_runs_per_batch=4, progress=False)
    # Another program (per-device shards): float32 reassociation over <= 121 rows, 40 steps.
    assert_f32_close(sharded.curves, single.curves, k=121, steps=40)
    assert_f32_close(sharded.params, single.params, k=121, steps=40)
    assert np.array_equal(sharded.diverged, single.diverged)
    print("OK")
""")


def test_runs_sharded_over_four_devices_equal_one_device():
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=4"}
    out = subprocess.run([sys.executable, "-c", FOUR_DEVICES], env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().endswith("OK")


def test_memory_is_linear_in_runs_and_sizes_batches(tiny_cfg):
    trainer = BatchTrainer(tiny_cfg, make_run_fns(tiny_cfg, operation_dataset("add", 11)))
    grid = make_grid({"lr": 0.01}, [("frac", [0.3, 0.4, 0.5, 0.6])])
    per_run = trainer.bytes_per_run({k: v[:1] for k, v in grid.items()}, 20)
    four = trainer.bytes_per_run(grid, 20)
    assert per_run > 0
    assert 3.0 * per_run <= four <= 4.4 * per_run  # predictable: ~R times one run
    assert devices.runs_for_budget(per_run, 10 * per_run, safety=0.8) == 8
    assert devices.runs_for_budget(per_run, 0.1 * per_run) == 1  # always at least one run

