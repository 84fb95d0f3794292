"""Flags shared by every experiment script, and their translation into a sweep.

Every StaticConfig field and every traced hyperparameter (grokjax.config.HPARAMS)
is a flag of the same name. Up to two hyperparameters can be swept:

    --x_axis=frac --x_values=0.1:0.9:17      # linspace(start, stop, num)
    --y_axis=wd   --y_values=log:1e-2:10:4   # geomspace(start, stop, num)
    --x_values=0.3,0.5,0.7                   # an explicit list
"""
from __future__ import annotations

import functools
import math
import sys
from typing import NamedTuple

import numpy as np
from absl import flags, logging

from grokjax.checkpoint import snapshots
from grokjax.checkpoint.store import CheckpointOptions
from grokjax.config import HPARAMS, MAX_RUNS, ConfigError, StaticConfig, setting_help, static_fields
from grokjax.train import run_dir
from grokjax.train.schedule import eval_steps

FLAGS = flags.FLAGS
SWEEP_FLAGS = ("x_axis", "x_values", "y_axis", "y_values", "seeds", "seed", "data_seed", "max_runs_per_batch",
               "memory_budget_gb", "shard_index", "num_shards")
OUTPUT_DIR_FLAGS = ("out", "figure_dir")  # the experiment scripts' output directories (besides --workdir)
CHECKPOINT_FLAGS = ("checkpoint_every", "keep_checkpoints", "snapshot_steps", "snapshot_dtype", "tensorboard")


def define_flags() -> None:
    """Defines the static, hyperparameter and sweep flags (once per process)."""
    if "op" in FLAGS:
        return
    for field in static_fields():  # help and allowed values: grokjax.config, declared once
        define = {bool: flags.DEFINE_bool, int: flags.DEFINE_integer, float: flags.DEFINE_float,
                  str: flags.DEFINE_string}[type(field.default)]
        define(field.name, field.default, setting_help(field.name))
    for name, spec in HPARAMS.items():
        flags.DEFINE_float(name, spec.default, f"{spec.help} ({spec.allowed})")
    flags.DEFINE_string("x_axis", "", f"hyperparameter swept along x: {', '.join(HPARAMS)}")
    flags.DEFINE_string("x_values", "", "values along x: a,b,c | start:stop:num | log:start:stop:num")
    flags.DEFINE_string("y_axis", "", "hyperparameter swept along y (optional)")
    flags.DEFINE_string("y_values", "", "values along y, as --x_values")
    flags.DEFINE_integer("seeds", 1, "seeds per grid point")
    flags.DEFINE_integer("seed", 0, "first model seed")
    flags.DEFINE_integer("data_seed", -1, "first data (split/corruption) seed; -1 = same as --seed")
    flags.DEFINE_integer("max_runs_per_batch", 64, "runs trained together in one compiled call")
    flags.DEFINE_float("memory_budget_gb", 0.0, "device memory per device for one batch of runs: batches "
                       "are sized to fit it, at most --max_runs_per_batch (0 = off)")
    flags.DEFINE_integer("shard_index", 0, "train only shard --shard_index of --num_shards of the grid "
                         "(a job of a SLURM array; merge with python -m grokjax.merge)")
    flags.DEFINE_integer("num_shards", 1, "split the grid's runs into this many contiguous shards")
    flags.DEFINE_string("workdir", "", "output directory")
    flags.DEFINE_bool("overwrite", False, "delete the sweep already in --workdir and start over "
                      "(without it, the same configuration resumes and a different one is refused)")
    flags.DEFINE_integer("checkpoint_every", 10, "checkpoint every this many evaluation chunks "
                         "(--eval_every steps each on a linear schedule); 0 = only when a batch ends")
    flags.DEFINE_integer("keep_checkpoints", 2, "newest checkpoints kept per batch of runs")
    flags.DEFINE_string("snapshot_steps", "", "keep every run's parameters at these steps (rounded to the "
                        "nearest evaluation step): a,b,c or log:N (step 0 and N log-spaced steps)")
    flags.DEFINE_string("snapshot_dtype", "float32", "float32 | float16: precision of the snapshots")
    flags.DEFINE_bool("progress", True, "show a progress bar with ETA")
    flags.DEFINE_bool("tensorboard", False, "also log every evaluation to TensorBoard event files in "
                      "WORKDIR/tensorboard/ (needs tensorboardX: pip install 'grokjax[tensorboard]')")


def parse_values(flag: str, text: str) -> np.ndarray:
    """'a,b,c' | 'start:stop:num' | 'log:start:stop:num' -> values; ConfigError if malformed."""
    form = "a,b,c or start:stop:num or log:start:stop:num"
    log = text.startswith("log:")
    try:
        if ":" in text:
            start, stop, num = text[4 if log else 0:].split(":")
            start, stop, num = float(start), float(stop), int(num)
        else:
            values = np.asarray([float(v) for v in text.split(",")])
    except ValueError:
        raise ConfigError(f"--{flag}={text!r} is malformed; write {form}") from None
    if ":" in text:
        if num > MAX_RUNS:
            raise ConfigError(f"--{flag}={text!r} asks for {num:.3g} values, more than a sweep's {MAX_RUNS:g} runs")
        if num <= 0:
            raise ConfigError(f"--{flag}={text!r}: the number of values must be a positive integer, got {num}")
        if log and not (start > 0 and stop > 0):
            raise ConfigError(f"--{flag}={text!r}: log spacing needs start and stop > 0 (a log axis has no 0 "
                              f"or negative values); got start={start:g}, stop={stop:g}")
        values = (np.geomspace if log else np.linspace)(start, stop, num)
    if values.size == 0:
        raise ConfigError(f"--{flag} is empty; write {form}")
    return np.round(values, 10)


def sweep_axes() -> list[tuple[str, np.ndarray]]:
    axes = []
    for axis in ("x", "y"):
        name, text = getattr(FLAGS, f"{axis}_axis"), getattr(FLAGS, f"{axis}_values")
        if not name and not text:
            continue
        if not name:
            raise ConfigError(f"--{axis}_values={text} needs --{axis}_axis, the hyperparameter it sweeps: "
                              f"{', '.join(HPARAMS)}")
        if name not in HPARAMS:
            raise ConfigError(f"--{axis}_axis={name!r} is not a sweepable hyperparameter; "
                              f"choose one of: {', '.join(HPARAMS)}")
        if not text:
            raise ConfigError(f"--{axis}_axis={name} needs --{axis}_values")
        axes.append((name, parse_values(f"{axis}_values", text)))
    if FLAGS.y_axis and not FLAGS.x_axis:
        raise ConfigError(f"--y_axis={FLAGS.y_axis} needs --x_axis: sweep one axis with --x_axis, two with both")
    if len(axes) == 2 and axes[0][0] == axes[1][0]:
        raise ConfigError(f"--x_axis and --y_axis are both {axes[0][0]}; sweep two different ones")
    if FLAGS.seeds <= 0:
        raise ConfigError(f"--seeds={FLAGS.seeds} must be a positive integer")
    n_runs = FLAGS.seeds * math.prod(len(values) for _, values in axes)
    if n_runs > MAX_RUNS:
        raise ConfigError(f"the grid has {n_runs:.3g} runs (axes x --seeds={FLAGS.seeds}), more than {MAX_RUNS:g}; "
                          "split it into several sweeps")
    for name in ("seed", "data_seed"):  # run s gets seed + s, stored as int32
        if not -2 ** 31 <= getattr(FLAGS, name) <= 2 ** 31 - FLAGS.seeds:
            raise ConfigError(f"--{name}={getattr(FLAGS, name)}: with --seeds={FLAGS.seeds} the seeds must stay "
                              "within int32 (below 2^31)")
    if FLAGS.max_runs_per_batch <= 0:
        raise ConfigError(f"--max_runs_per_batch={FLAGS.max_runs_per_batch} must be a positive integer")
    if not math.isfinite(FLAGS.memory_budget_gb) or FLAGS.memory_budget_gb < 0:
        raise ConfigError(f"--memory_budget_gb={FLAGS.memory_budget_gb} must be a finite number of GiB >= 0 "
                          "(0 = off)")
    return axes


def checkpoint_options(cfg: StaticConfig) -> CheckpointOptions:
    """--checkpoint_every, --keep_checkpoints, --snapshot_* (and --tensorboard's package); ConfigError if bad."""
    if FLAGS.checkpoint_every < 0:
        raise ConfigError(f"--checkpoint_every={FLAGS.checkpoint_every} must be an integer >= 0")
    if FLAGS.keep_checkpoints < 1:
        raise ConfigError(f"--keep_checkpoints={FLAGS.keep_checkpoints} must be a positive integer")
    if FLAGS.tensorboard:
        from grokjax.train.live import require_tensorboard
        require_tensorboard()  # before anything is written
    if FLAGS.snapshot_dtype not in snapshots.DTYPES:
        raise ConfigError(f"--snapshot_dtype={FLAGS.snapshot_dtype} is not allowed; choose one of: "
                          f"{', '.join(snapshots.DTYPES)}")
    points = eval_steps(cfg.steps, cfg.eval_every, cfg.eval_schedule)
    return CheckpointOptions(every=FLAGS.checkpoint_every, keep=FLAGS.keep_checkpoints,
                             snapshot_steps=snapshots.resolve_steps(FLAGS.snapshot_steps, points),
                             snapshot_dtype=FLAGS.snapshot_dtype)


class SweepPlan(NamedTuple):
    """What experiments/phase_diagram.py and launch/sweep.py train: this process's share of the grid."""

    cfg: StaticConfig
    grid: dict  # the runs of --shard_index of --num_shards (every run if 1)
    axes: list[str]  # swept hyperparameter names
    max_runs_per_batch: int  # --max_runs_per_batch, lowered to fit --memory_budget_gb
    shard: dict | None = None  # shard.json, written with config.json once the workdir is checked


def sweep_plan() -> SweepPlan:
    """The sweep the flags describe, cut to this shard; ConfigError (one line) if bad. Writes nothing.

    When the grid is split (--num_shards > 1) the plan carries shard.json, which run_plan
    writes to --workdir and `python -m grokjax.merge` uses to put the shards back together.
    """
    from grokjax.data.datasets import operation_dataset
    from grokjax.merge import shard_info
    from grokjax.train.sweep import check_grid_fits, check_run_memory, grid_size

    cfg, axes = config_and_axes()
    whole = grid_from_flags(axes)
    dataset = operation_dataset(cfg.op, cfg.p)
    check_grid_fits(whole, dataset)
    grid, runs = select_shard(whole)
    check_run_memory(cfg, grid, dataset, FLAGS.memory_budget_gb)
    checkpoint_options(cfg)
    run_dir.check_writable_dir(FLAGS.workdir)  # the path; what it holds is checked by run_plan
    shard = shard_info(FLAGS.shard_index, FLAGS.num_shards, runs, grid_size(whole)) if FLAGS.num_shards > 1 else None
    plan = SweepPlan(cfg, grid, [name for name, _ in axes], runs_per_batch(cfg, grid), shard)
    if shard:
        print(f"shard {FLAGS.shard_index}/{FLAGS.num_shards}: runs {runs[0]}..{runs[-1]} of {grid_size(whole)}",
              flush=True)
    return plan


def run_plan(plan: SweepPlan):
    """Trains the plan into --workdir (resumable from its checkpoints); returns the SweepResult."""
    from grokjax.train.experiment import run_grid_experiment

    return run_grid_experiment(plan.cfg, plan.grid, FLAGS.workdir, plan.axes, flags_text=flags_text(),
                               max_runs_per_batch=plan.max_runs_per_batch, progress=FLAGS.progress,
                               checkpoint=checkpoint_options(plan.cfg), overwrite=FLAGS.overwrite,
                               tensorboard=FLAGS.tensorboard, files={"shard.json": plan.shard} if plan.shard else None)


def select_shard(grid: dict) -> tuple[dict, np.ndarray]:
    """The runs of --shard_index of --num_shards (all of them if 1): (grid, run indices)."""
    from grokjax.merge import shard_grid
    return shard_grid(grid, FLAGS.shard_index, FLAGS.num_shards)


def runs_per_batch(cfg: StaticConfig, grid: dict) -> int:
    """--max_runs_per_batch, lowered to what fits --memory_budget_gb when it is set."""
    if FLAGS.memory_budget_gb == 0:
        return FLAGS.max_runs_per_batch
    from grokjax.train.sweep import max_runs_for_memory
    return min(FLAGS.max_runs_per_batch, max_runs_for_memory(cfg, grid, FLAGS.memory_budget_gb * 2 ** 30))


def config_and_axes() -> tuple[StaticConfig, list[tuple[str, np.ndarray]]]:
    """The validated static config and sweep axes of the flags; ConfigError if bad."""
    from grokjax.config import validate_static

    cfg = static_config()
    validate_static(cfg)
    return cfg, sweep_axes()


def grid_from_flags(axes: list[tuple[str, np.ndarray]]) -> dict:
    """Every run of the sweep the flags describe: axes x seeds over the scalar hparams."""
    from grokjax.train.sweep import make_grid  # the sweep engine imports jax; keep cli light

    return make_grid(base_hparams(), axes, seeds=FLAGS.seeds, seed=FLAGS.seed,
                     data_seed=None if FLAGS.data_seed < 0 else FLAGS.data_seed)


def static_config() -> StaticConfig:
    return StaticConfig(**{f.name: getattr(FLAGS, f.name) for f in static_fields()})


def base_hparams() -> dict[str, float]:
    return {name: getattr(FLAGS, name) for name in HPARAMS}


def flag_names() -> list[str]:
    return [f.name for f in static_fields()] + list(HPARAMS) + \
        list(SWEEP_FLAGS) + list(CHECKPOINT_FLAGS)


def flags_text(extra: tuple[str, ...] = ()) -> str:
    """The experiment's flags as a flagfile: `--flagfile=flags.txt` reruns it (`extra`: a script's own flags)."""
    return "".join(f"--{name}={FLAGS[name].value}\n" for name in flag_names()) + \
        "".join(f"{FLAGS[name].serialize()}\n" for name in extra)


def require_workdir(workdir: str, what: str = "a finished sweep directory with parameter snapshots") -> str:
    """The --workdir of an analysis script, or the one-line error when it is missing."""
    if not workdir:
        raise ConfigError(f"--workdir is required: {what}")
    return workdir


def parse_flags_or_exit(argv: list[str]) -> list[str]:
    """absl flags_parser: a malformed flag value or a stray positional argument is one
    line on stderr (absl prints two, or ignores strays); every entry script uses it."""
    try:
        argv = FLAGS(argv)
    except flags.Error as err:
        message = str(err).removeprefix("ERROR:: ").strip().splitlines()[0]
        if message.startswith("Unable to open flagfile: "):  # absl: "... [Errno 2] No such file ...: 'path'"
            head, _, path = message.rpartition(": ")
            message = f"--flagfile={path.strip(chr(39))} cannot be read ({head.split('] ', 1)[-1]})"
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)
    except (UnicodeDecodeError, OSError) as err:  # a flagfile that is not text, or unreadable
        path = next((a.split("=", 1)[1] for a in reversed(argv) if a.startswith("--flagfile=")), "?")
        exit_on_config_error(ConfigError(f"--flagfile={path} cannot be read ({run_dir.first_line(err)})"))
    if len(argv) > 1:
        exit_on_config_error(ConfigError(f"unexpected arguments: {' '.join(argv[1:])}"))
    for name in OUTPUT_DIR_FLAGS:  # every script's output directory, checked like --workdir
        if name in FLAGS and FLAGS[name].value:
            try:
                run_dir.check_writable_dir(FLAGS[name].value, f"--{name}")
            except ConfigError as err:
                exit_on_config_error(err)
    if "verbosity" in FLAGS and not FLAGS["verbosity"].present:
        # Orbax and JAX log every checkpoint at INFO; stderr stays for warnings and errors.
        logging.set_verbosity(logging.WARNING)
    return argv


def exit_on_config_error(err: ConfigError) -> None:
    print(f"error: {err}", file=sys.stderr)
    sys.exit(2)


STOPPED_EXIT_CODE = 130  # the shell's code for a command ended by Ctrl-C


def stop_cleanly(main):
    """`main` for app.run: a sweep stopped by Ctrl-C or SIGTERM (grokjax.train.interrupt) ends with
    the one line its KeyboardInterrupt carries (where it stopped and how to resume), not a traceback."""
    @functools.wraps(main)
    def wrapped(argv):
        try:
            return main(argv)
        except KeyboardInterrupt as err:
            print(str(err) or "interrupted", file=sys.stderr)  # a bare Ctrl-C outside training: no claim
            sys.exit(STOPPED_EXIT_CODE)
    return wrapped


def run_script(main) -> None:
    """Runs an experiment script's main: flags parsed by parse_flags_or_exit, signals by stop_cleanly."""
    from absl import app
    app.run(stop_cleanly(main), flags_parser=parse_flags_or_exit)
