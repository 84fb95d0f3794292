"""experiments/phase_diagram.py for clusters: one shard of a grid, on one or many hosts.

    # job i of a SLURM array of k jobs (launch/slurm_array.sh does this):
    python launch/sweep.py --flagfile=F --shard_index=i --num_shards=k --workdir=runs/x/shard_i
    # one grid across every GPU of several hosts (launch/multihost.sbatch):
    srun python launch/sweep.py --flagfile=F --workdir=runs/x

Same flags as experiments/phase_diagram.py, including --shard_index/--num_shards and
--memory_budget_gb (both scripts plan the sweep with grokjax.cli.sweep_plan). With
several processes (SLURM_NTASKS > 1 or JAX_COORDINATOR_ADDRESS set) it calls
jax.distributed.initialize() and trains through the same function as one host
(grokjax.cli.run_plan): each batch's runs are split across every device of every host,
every process checkpoints its own shards (Orbax, collectively), process 0 writes the
rest of the run directory, and rerunning the same command resumes from the checkpoints
(a SIGTERM to any process stops them all after the same chunk, checkpointed). Merge the
shards of an array with `python -m grokjax.merge --out=runs/x runs/x/shard_*`.
"""
import os
import sys


sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from grokjax import cli  # noqa: E402
from grokjax.config import ConfigError  # noqa: E402
from grokjax.train import devices  # noqa: E402
from grokjax.train.sweep import grid_size  # noqa: E402

cli.define_flags()
FLAGS = cli.FLAGS


def main(argv):
    del argv  # cli.parse_flags_or_exit already refused positional arguments
    devices.initialize_distributed()  # before anything touches a JAX backend
    try:
        plan = cli.sweep_plan()  # the same sharding as experiments/phase_diagram.py
        print(f"{grid_size(plan.grid)} run(s), at most {plan.max_runs_per_batch} per batch, on "
              f"{devices.jax.device_count()} device(s) of {devices.jax.process_count()} process(es)", flush=True)
        cli.run_plan(plan)  # the same engine, checkpoints and resume on one host or several
    except ConfigError as err:
        cli.exit_on_config_error(err)


if __name__ == "__main__":
    cli.run_script(main)
