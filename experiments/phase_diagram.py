"""Train a grid of up to two hyperparameters x seeds and draw its phase diagram.

    python experiments/phase_diagram.py --flagfile=experiments/flags/quickstart.flags --workdir=runs/quick

Writes config.json, flags.txt, summary.csv, metrics.npz, final_{train,val}_acc.png,
phase_diagram.png (when labels are corrupted) and curves.png to --workdir, and
checkpoints/ as it goes: run the same command again to resume (docs/checkpoints.md).

A grid can be split across processes or jobs: `--shard_index=i --num_shards=k` trains
the i-th of k contiguous blocks of runs; merge the k run directories with
`python -m grokjax.merge --out=DIR shard_dirs...` (launch/README.md).
"""

from grokjax import cli
from grokjax.config import ConfigError

cli.define_flags()
FLAGS = cli.FLAGS


def main(argv):
    del argv  # cli.parse_flags_or_exit already refused positional arguments
    try:
        # Resumes the sweep in --workdir if it has the same configuration; refuses a different one.
        cli.run_plan(cli.sweep_plan())
    except ConfigError as err:
        cli.exit_on_config_error(err)


if __name__ == "__main__":
    cli.run_script(main)
