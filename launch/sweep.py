"""experiments/phase_diagram.py for clusters: one shard of a grid, on one or many hosts.

    # job i of a SLURM array of k jobs (launch/slurm_array.sh does this):
    python launch/sweep.py --flagfile=F --shard_index=i --num_shards=k --workdir=runs/x/shard_i
    # one grid across every GPU of several hosts (launch/multihost.sbatch):
    srun python launch/sweep.py --flagfile=F --workdir=runs/x

Same flags as experiments/phase_diagram.py, including --shard_index/--num_shards and
--memory_budget_gb (both scripts plan the sweep with grokjax.cli.sweep_plan). With
several processes (SLURM_NTASKS > 1 or JAX_COORDINATOR_ADDRESS set) it calls
jax.distributed.initialize(), splits each batch's runs across every device of every
host, and process 0 writes the run directory (multi-host sweeps are not checkpointed). Merge the shards of an array
with `python -m grokjax.merge --out=runs/x runs/x/shard_*`.
"""
import os
import sys

from absl import app

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from grokjax import cli  # noqa: E402
from grokjax.config import ConfigError  # noqa: E402
from grokjax.train import devices  # noqa: E402
from grokjax.train.sweep import grid_size  # noqa: E402

cli.define_flags()
FLAGS = cli.FLAGS


def run_multihost(plan: cli.SweepPlan) -> None:
    """Every process trains its devices' runs of each batch; process 0 writes the results."""
    from grokjax.train.experiment import experiment_config, write_plots, write_progress
    from grokjax.train.summary import summarize
    from grokjax.train.sweep import run_sweep
    from grokjax.workdir import atomic_write_bytes, prepare_workdir, write_json, write_results

    cfg, grid, axes, max_runs = plan
    main = devices.is_main_process()
    if main:
        prepare_workdir(FLAGS.workdir, experiment_config(cfg, grid, axes, max_runs), overwrite=FLAGS.overwrite)
        write_json(os.path.join(FLAGS.workdir, "config.json"), experiment_config(cfg, grid, axes, max_runs))
        atomic_write_bytes(os.path.join(FLAGS.workdir, "flags.txt"), cli.flags_text().encode())
    result = run_sweep(cfg, grid, max_runs_per_batch=max_runs, keep_params=False, progress=FLAGS.progress and main)
    if main:
        summary = summarize(result)
        write_results(FLAGS.workdir, result, summary)
        write_plots(FLAGS.workdir, result, summary, axes)
        write_progress(FLAGS.workdir, grid_size(grid), grid_size(grid), complete=True)
        print(f"{grid_size(grid)} runs on {devices.jax.device_count()} devices of "
              f"{devices.jax.process_count()} processes; results in {FLAGS.workdir}")


def main(argv):
    del argv  # cli.parse_flags_or_exit already refused positional arguments
    multihost = devices.initialize_distributed()
    try:
        plan = cli.sweep_plan()  # the same sharding as experiments/phase_diagram.py
        print(f"{grid_size(plan.grid)} run(s), at most {plan.max_runs_per_batch} per batch, on "
              f"{devices.jax.device_count()} device(s)", flush=True)
        if multihost:
            run_multihost(plan)
        else:
            cli.run_plan(plan)
    except ConfigError as err:
        cli.exit_on_config_error(err)


if __name__ == "__main__":
    app.run(main, flags_parser=cli.parse_flags_or_exit)
