"""Train a grid of up to two hyperparameters x seeds and draw its phase diagram.

    python experiments/phase_diagram.py --flagfile=experiments/flags/quickstart.flags --workdir=runs/quick

Writes config.json, flags.txt, summary.csv, metrics.npz, final_{train,val}_acc.png,
phase_diagram.png (when labels are corrupted) and curves.png to --workdir, and
checkpoints/ as it goes: run the same command again to resume (docs/checkpoints.md).
"""
from absl import app

from grokjax import cli
from grokjax.config import ConfigError
from grokjax.train.experiment import run_grid_experiment
from grokjax.data.datasets import operation_dataset
from grokjax.train.sweep import check_grid_fits

cli.define_flags()
FLAGS = cli.FLAGS


def main(argv):
    del argv  # cli.parse_flags_or_exit already refused positional arguments
    try:
        cfg, axes = cli.config_and_axes()
        grid = cli.grid_from_flags(axes)
        check_grid_fits(grid, operation_dataset(cfg.op, cfg.p))  # before anything is written
        checkpoint = cli.checkpoint_options(cfg)
        # Resumes the sweep in --workdir if it has the same configuration; refuses a different one.
        run_grid_experiment(cfg, grid, FLAGS.workdir, [name for name, _ in axes], flags_text=cli.flags_text(),
                            max_runs_per_batch=FLAGS.max_runs_per_batch, progress=FLAGS.progress,
                            checkpoint=checkpoint, overwrite=FLAGS.overwrite)
    except ConfigError as err:
        cli.exit_on_config_error(err)


if __name__ == "__main__":
    app.run(main, flags_parser=cli.parse_flags_or_exit)
