"""What dropout, weight noise and update noise cost per step, against a sweep without them.

They are compiled in only when some run of a grid uses them (grokjax.train.sweep.features_for);
this measures the cost when they are. Each variant trains R runs of one config in one vmapped call.

    python benchmarks/noise_features.py                     # small transformer, R = 8
    python benchmarks/noise_features.py --config=small_mlp --runs=16
"""
from absl import app, flags

import common  # noqa: E402  (benchmarks/ is the working directory of these scripts)
from grokjax.data.datasets import operation_dataset
from grokjax.train.run import make_run_fns
from grokjax.train.sweep import BatchTrainer, features_for, make_grid

FLAGS = flags.FLAGS
flags.DEFINE_string("config", "small_transformer", f"one of: {', '.join(common.CONFIGS)}")
flags.DEFINE_integer("runs", 8, "vmapped runs R")
flags.DEFINE_integer("steps", 100, "steps per timed call")

VARIANTS = {"none": {}, "dropout 0.1": {"dropout": 0.1}, "weight_noise 0.01": {"weight_noise": 0.01},
            "grad_noise 0.01": {"grad_noise": 0.01}}


def main(argv):
    del argv
    base = common.CONFIGS[FLAGS.config]
    dataset = operation_dataset(base.op, base.p)
    before = common.load_average()
    calls = {}
    for name, extra in VARIANTS.items():
        grid = make_grid({"lr": 1e-3, "wd": 1.0, "frac": 0.5, **extra}, seeds=FLAGS.runs)
        cfg = features_for(base, grid)
        trainer = BatchTrainer(cfg, make_run_fns(cfg, dataset))
        hp = trainer.place(grid)
        chunk = trainer.chunk(FLAGS.steps)
        state = [trainer.init(hp)]

        def call(chunk=chunk, hp=hp, state=state):
            state[0], metrics = chunk(state[0], hp)
            return metrics

        calls[name] = call
    times = common.best_times(list(calls.values()))  # interleaved rounds: (wall, CPU) of the best call
    (wall_none, cpu_none) = times[0]
    rows = [{"config": FLAGS.config, "variant": name, "R": FLAGS.runs, "ms/step": round(1000 * wall / FLAGS.steps, 3),
             "cost vs none": round(wall / wall_none, 3), "CPU cost vs none": round(cpu / cpu_none, 3)}
            for name, (wall, cpu) in zip(calls, times)]
    common.write_table(f"noise_features_{FLAGS.config}", "cost of dropout / weight noise / update noise per step",
                       rows, ["config", "variant", "R", "ms/step", "cost vs none", "CPU cost vs none"],
                       notes=f"{before} / {common.load_average()}")


if __name__ == "__main__":
    app.run(main)
