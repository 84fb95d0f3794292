"""Plot a finished intervention sweep: validation accuracy and measures per value of its x axis.

    python experiments/beyond_figure.py --workdir=runs/grokfast --axis=grokfast_lambda \
        --metrics=val_acc,train_acc,ipr

Writes intervention.png and steps_to_val_acc_99.md to --workdir and prints the steps-to-99%-validation table per grid point (median, bootstrap 95% interval, range).
"""
from absl import flags

from grokjax import cli
from grokjax.config import ConfigError
from grokjax.errors import check_allowed
from grokjax.plotting.beyond import plot_by_value, steps_to_threshold_table
from grokjax.train import run_dir

flags.DEFINE_string("workdir", "", "a finished sweep's run directory")
flags.DEFINE_string("axis", "grokfast_lambda", "the grid columns whose values are compared, comma-separated")
flags.DEFINE_string("metrics", "val_acc,train_acc", "curves to plot, comma-separated")
flags.DEFINE_string("log_metrics", "", "those of --metrics drawn on a log y axis (e.g. losses), comma-separated")
FLAGS = flags.FLAGS
STEP_COLUMN = "step_val_acc_99"


def main(argv):
    del argv  # cli.parse_flags_or_exit already refused positional arguments
    try:  # everything read and checked before the first write
        sweep = run_dir.RunDir(cli.require_workdir(FLAGS.workdir, "a finished sweep's run directory"))
        metrics, summary = sweep.metrics(), sweep.summary()
        if metrics is None or summary is None:
            raise ConfigError(f"--workdir={FLAGS.workdir} has no finished results (metrics.npz and summary.csv)")
        steps, curves, grid, _ = metrics
        for name in FLAGS.axis.split(","):
            check_allowed("axis", name, sorted(grid))
        for name in FLAGS.metrics.split(","):
            check_allowed("metrics", name, sorted(curves))
        log_y = [name for name in FLAGS.log_metrics.split(",") if name]
        for name in log_y:
            check_allowed("log_metrics", name, FLAGS.metrics.split(","))
        if STEP_COLUMN not in summary:
            raise ConfigError(f"{sweep.path(run_dir.SUMMARY)} is damaged (it has no {STEP_COLUMN} column)")
        run_dir.check_writable_dir(FLAGS.workdir)  # the figure and the table are written there
    except ConfigError as err:
        cli.exit_on_config_error(err)
    axes = {name: grid[name] for name in FLAGS.axis.split(",")}
    plot_by_value(sweep.path("intervention.png"), steps, curves, axes, FLAGS.metrics.split(","), log_y)
    table = "\n".join(steps_to_threshold_table(summary[STEP_COLUMN].to_numpy(), axes, int(steps[-1])))
    run_dir.write_text(sweep.path("steps_to_val_acc_99.md"), table + "\n")
    print(table)


if __name__ == "__main__":
    cli.run_script(main)
