"""Plot a finished intervention sweep: validation accuracy and measures per value of its x axis.

    python experiments/beyond_figure.py --workdir=runs/grokfast --axis=grokfast_lambda \
        --metrics=val_acc,train_acc,ipr

Writes intervention.png and steps_to_val_acc_99.md to --workdir and prints the steps-to-99%-validation table per grid point (median, bootstrap 95% interval, range).
"""
from absl import app, flags

from grokjax.plotting.beyond import plot_by_value, steps_to_threshold_table
from grokjax.train import run_dir

flags.DEFINE_string("workdir", "", "a finished sweep's run directory")
flags.DEFINE_string("axis", "grokfast_lambda", "the grid columns whose values are compared, comma-separated")
flags.DEFINE_string("metrics", "val_acc,train_acc", "curves to plot, comma-separated")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    sweep = run_dir.RunDir(FLAGS.workdir)
    steps, curves, grid, _ = sweep.metrics()
    axes = {name: grid[name] for name in FLAGS.axis.split(",")}
    plot_by_value(sweep.path("intervention.png"), steps, curves, axes, FLAGS.metrics.split(","))
    summary = sweep.summary()
    table = "\n".join(steps_to_threshold_table(summary["step_val_acc_99"].to_numpy(), axes, int(steps[-1])))
    run_dir.write_text(sweep.path("steps_to_val_acc_99.md"), table + "\n")
    print(table)


if __name__ == "__main__":
    app.run(main)
