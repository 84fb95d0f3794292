"""Omnigrok Section 5.1 / Appendix E / Figure 6: the (w, m) landscape of the toy addition model.

    python experiments/omnigrok_representation.py \
        --flagfile=experiments/flags/omnigrok_representation_cpu.flags --workdir=runs/omnigrok_repr

Symbols 0..p-1 are scalars E_i = m R_random + (1 - m) R_linear (Eq. 4); a
1-width-width-30 ReLU decoder maps E_i + E_j to the random template of i + j.
For every (alpha = w / w0, m, training size) the decoder direction is trained at
constant norm (landscape analysis, App. E), all runs vmapped; then Eq. 6 is
integrated on the reduced train loss from --traj_start (the paper's path A -> E).
--workdir is a run directory (grokjax.train.run_dir): config.json, flags.txt, the live metrics
stream, summary.csv (one row per run), metrics.npz, checkpoints; then landscape.npz, trajectory.csv,
landscape_summary.json and PNGs. A rerun with the same flags resumes.
"""
import os
import shutil

import numpy as np
from absl import flags

from grokjax import cli
from grokjax.analysis.representation import landscape_of, reduced_trajectory, toy_addition, toy_sweep
from grokjax.config import ConfigError, validate_static
from grokjax.errors import check_value
from grokjax.plotting import omnigrok as plots
from grokjax.train import run_dir
from grokjax.train.experiment import run_grid_experiment
from grokjax.train.memory import check_table_fits

cli.define_flags()
flags.DEFINE_string("alphas", "log:0.25:4:9", "decoder weight norms w = alpha * w0 of the landscape")
flags.DEFINE_string("messiness", "0:1:6", "representation messiness values m in [0, 1]")
flags.DEFINE_string("n_trains", "45", "training sizes (pairs i <= j; p(p+1)/2 in all); the last one is the "
                    "main landscape, all are drawn as train-loss contours (Fig. 6e)")
flags.DEFINE_integer("d_out", 30, "dimension of the random output templates")
flags.DEFINE_integer("rep_dim", 1, "dimension of each symbol's embedding E_i (App. E: 1, a scalar)")
flags.DEFINE_integer("task_seed", 0, "seed of the templates and of R_random")
flags.DEFINE_float("boundary_level", 0.05, "train-loss contour between regions I and II (Fig. 6a)")
flags.DEFINE_float("contour_level", 0.02, "train-loss contour drawn per training size (Fig. 6e)")
flags.DEFINE_string("traj_start", "1,1", "start (alpha, m) of the reduced trajectory (Eq. 6); empty = none")
flags.DEFINE_float("traj_eta_d", 1.0, "decoder learning rate eta_D of Eq. 6")
flags.DEFINE_float("traj_eta_r", 1.0, "representation learning rate eta_R of Eq. 6")
flags.DEFINE_float("traj_gamma", 0.01, "weight decay gamma of Eq. 6")
flags.DEFINE_float("traj_dt", 1.0, "time step of the Eq. 6 integration")
flags.DEFINE_integer("traj_steps", 2000, "integration steps of Eq. 6")
flags.DEFINE_string("figure_dir", "", "also copy the PNGs here (e.g. docs/figures/omnigrok)")
flags.DEFINE_string("figure_prefix", "", "file-name prefix of the copied PNGs")
FLAGS = flags.FLAGS
TOY_FLAGS = ("alphas", "messiness", "n_trains", "d_out", "rep_dim", "task_seed")


def _values(name: str) -> np.ndarray:
    return cli.parse_values(name, getattr(FLAGS, name))


def _settings():
    """Validated (cfg, alphas, ms, n_trains, trajectory start); ConfigError (one line) if bad."""
    cfg = cli.static_config()
    validate_static(cfg)
    if FLAGS.p < 2:
        raise ConfigError(f"--p={FLAGS.p} must be >= 2")
    alphas, ms, n_trains = _values("alphas"), _values("messiness"), _values("n_trains")
    n_pairs = FLAGS.p * (FLAGS.p + 1) // 2
    if np.any(alphas <= 0):
        raise ConfigError(f"--alphas={FLAGS.alphas} must all be > 0")
    if np.any((ms < 0) | (ms > 1)):
        raise ConfigError(f"--messiness={FLAGS.messiness} must all be in [0, 1]")
    if np.any((n_trains < 1) | (n_trains >= n_pairs) | (n_trains != np.round(n_trains))):
        raise ConfigError(f"--n_trains={FLAGS.n_trains} must be integers in [1, {n_pairs - 1}] "
                          f"(p = {FLAGS.p} has {n_pairs} pairs i <= j)")
    for name in ("seeds", "d_out", "rep_dim", "width", "traj_steps"):
        if FLAGS[name].value <= 0:
            raise ConfigError(f"--{name}={FLAGS[name].value} must be a positive integer")
    for name in ("traj_dt", "boundary_level", "contour_level"):
        check_value(name, FLAGS[name].value, 0 < FLAGS[name].value < np.inf, "a number > 0")
    for name in ("traj_eta_d", "traj_eta_r", "traj_gamma"):
        check_value(name, FLAGS[name].value, 0 <= FLAGS[name].value < np.inf, "a number >= 0")
    check_table_fits(n_pairs, FLAGS.d_out, f"--p={FLAGS.p}")  # the task's pairs, before they are built
    start = None
    if FLAGS.traj_start:
        start = cli.parse_values("traj_start", FLAGS.traj_start)
        if start.size != 2 or start[0] <= 0 or not 0 <= start[1] <= 1:
            raise ConfigError(f"--traj_start={FLAGS.traj_start} must be 'alpha,m' with alpha > 0, m in [0, 1]")
    return cfg, alphas, ms, n_trains.astype(int), start


def _publish(path: str) -> None:
    if FLAGS.figure_dir:
        os.makedirs(FLAGS.figure_dir, exist_ok=True)
        shutil.copy(path, os.path.join(FLAGS.figure_dir, FLAGS.figure_prefix + os.path.basename(path)))


def _trajectory(land, start, workdir: str) -> tuple[np.ndarray, dict]:
    """Eq. 6 from `start` on the main landscape; the reduced losses along it (Fig. 6c)."""
    from scipy.interpolate import RectBivariateSpline

    log_w = np.log(land.ws)
    train = land.metrics["train_loss"][-1]
    path = reduced_trajectory(log_w, land.ms, train, (start[0] * land.w0, start[1]), eta_d=FLAGS.traj_eta_d,
                              eta_r=FLAGS.traj_eta_r, gamma=FLAGS.traj_gamma, dt=FLAGS.traj_dt,
                              n_steps=FLAGS.traj_steps)
    along = {}
    for split in ("train", "val"):  # losses along the path from a spline of log10 loss (positive by construction)
        grid = np.log10(np.maximum(land.metrics[f"{split}_loss"][-1], 1e-8))
        spline = RectBivariateSpline(land.ms, log_w, grid, kx=min(3, len(land.ms) - 1), ky=min(3, len(log_w) - 1))
        along["train" if split == "train" else "test"] = 10 ** spline.ev(path[:, 1], np.log(path[:, 0]))
    run_dir.write_csv(os.path.join(workdir, "trajectory.csv"),
                      {"t": np.arange(len(path)) * FLAGS.traj_dt, "w": path[:, 0], "m": path[:, 1],
                       "reduced_train_loss": along["train"], "reduced_test_loss": along["test"]})
    return path, along


def main(argv):
    del argv  # cli.parse_flags_or_exit already refused positional arguments
    try:
        cfg, alphas, ms, n_trains, start = _settings()
        task = toy_addition(FLAGS.p, FLAGS.d_out, FLAGS.task_seed, FLAGS.rep_dim)
        sweep = toy_sweep(cfg, task, alphas, ms, n_trains, lr=FLAGS.lr, width=FLAGS.width, seeds=FLAGS.seeds,
                          seed=FLAGS.seed)
        workdir = FLAGS.workdir
        result = run_grid_experiment(sweep.cfg, sweep.grid, workdir, [], dataset=sweep.dataset, model=sweep.model,
                                     task=sweep.task, extra={name: FLAGS[name].value for name in TOY_FLAGS},
                                     flags_text=cli.flags_text(TOY_FLAGS), max_runs_per_batch=FLAGS.max_runs_per_batch,
                                     progress=FLAGS.progress, checkpoint=cli.checkpoint_options(cfg),
                                     overwrite=FLAGS.overwrite, tensorboard=FLAGS.tensorboard, plots=False)
    except ConfigError as err:
        cli.exit_on_config_error(err)
    land = landscape_of(sweep, result, alphas, ms, n_trains, FLAGS.seeds, FLAGS.seed)
    run_dir.write_npz(os.path.join(workdir, "landscape.npz"), alphas=land.alphas, ws=land.ws, ms=land.ms,
                      n_trains=land.n_trains, w0=land.w0, **{f"reduced__{k}": v for k, v in land.metrics.items()})

    n_main = int(land.n_trains[-1])
    main_metrics = {k: v[-1] for k, v in land.metrics.items()}
    i_best = np.unravel_index(np.nanargmin(main_metrics["val_loss"]), main_metrics["val_loss"].shape)
    star = (float(land.ws[i_best[1]]), float(land.ms[i_best[0]]))
    path_wm, along = _trajectory(land, start, workdir) if start is not None else (None, None)
    setup = (f"toy addition p={FLAGS.p}, decoder {FLAGS.rep_dim}-{FLAGS.width}-{FLAGS.width}-{FLAGS.d_out} ReLU, "
             "{} of " + f"{task.size} pairs; constant norm, {cfg.optimizer} lr {FLAGS.lr:g}, {cfg.steps} steps")
    title = setup.format(n_main)
    names = []
    run_dir.save_plot(os.path.join(workdir, "wm_landscape.png"), plots.plot_wm_landscape, land.ws, land.ms,
                      {"reduced train loss": main_metrics["train_loss"],
                       "reduced test loss": main_metrics["val_loss"],
                       "reduced train accuracy": main_metrics["train_acc"],
                       "reduced test accuracy": main_metrics["val_acc"]}, title,
                      boundary=main_metrics["train_loss"], level=FLAGS.boundary_level, star=star,
                      path_wm=path_wm, log_panels=("reduced train loss", "reduced test loss"))
    names.append("wm_landscape.png")
    if len(land.n_trains) > 1:
        run_dir.save_plot(os.path.join(workdir, "wm_size_contours.png"), plots.plot_size_contours, land.ws, land.ms,
                          {f"N={n}": land.metrics["train_loss"][i] for i, n in enumerate(land.n_trains)},
                          FLAGS.contour_level, f"train loss = {FLAGS.contour_level:g} contours\n{setup.format('N')}",
                          star=star)
        names.append("wm_size_contours.png")
    if path_wm is not None:
        run_dir.save_plot(os.path.join(workdir, "wm_path_losses.png"), plots.plot_path_losses,
                          np.arange(len(path_wm)) * FLAGS.traj_dt, along,
                          f"along the Eq. 6 path (gamma {FLAGS.traj_gamma:g}, eta_D {FLAGS.traj_eta_d:g}, "
                          f"eta_R {FLAGS.traj_eta_r:g})")
        names.append("wm_path_losses.png")
    for name in names:
        _publish(os.path.join(workdir, name))
    run_dir.write_json(os.path.join(workdir, "landscape_summary.json"),
                       {"w0": land.w0, "generalizing_solution": {"w": star[0], "m": star[1],
                                                                 "test_loss": float(main_metrics["val_loss"][i_best])},
                        "trajectory_end": None if path_wm is None else {"w": float(path_wm[-1, 0]),
                                                                        "m": float(path_wm[-1, 1])}})
    np.set_printoptions(precision=3, suppress=True, linewidth=160)
    print(f"w0 = {land.w0:.2f}; w = {np.round(land.ws, 2)}; m = {land.ms}")
    for k in ("train_loss", "val_loss", "val_acc"):
        print(f"reduced {k} (rows m, columns w), N = {n_main}:\n{main_metrics[k]}")
    print(f"results in {workdir}")


if __name__ == "__main__":
    cli.run_script(main)
