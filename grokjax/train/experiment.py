"""A sweep from configuration to finished run directory (grokjax.train.run_dir)."""
from __future__ import annotations

import dataclasses
import os
import time

import numpy as np

from grokjax.checkpoint.store import CheckpointOptions, SweepCheckpoints
from grokjax.config import HPARAMS, StaticConfig
from grokjax.plotting.beyond import plot_grid_point_times
from grokjax.plotting.phase_diagram import plot_curves, plot_heatmap, plot_phase_diagram
from grokjax.train import devices, run_dir
from grokjax.train.live import LiveMetrics
from grokjax.train.schedule import eval_steps
from grokjax.train.summary import seed_point_times, summarize
from grokjax.train.sweep import Grid, SweepResult, grid_size, run_sweep


def experiment_config(cfg: StaticConfig, grid: Grid, axes: list[str], max_runs_per_batch: int,
                      checkpoint: CheckpointOptions = CheckpointOptions(), extra: dict | None = None) -> dict:
    """config.json: everything the results depend on. A rerun resumes only if it is unchanged."""
    return run_dir.sweep_config(cfg, grid, axes, max_runs_per_batch, checkpoint.snapshot_steps,
                                checkpoint.snapshot_dtype, extra)


def run_grid_experiment(cfg: StaticConfig, grid: Grid, workdir: str, axes: list[str], *,
                        flags_text: str = "", max_runs_per_batch: int = 64, progress: bool = True,
                        checkpoint: CheckpointOptions = CheckpointOptions(), overwrite: bool = False,
                        dataset=None, model=None, task=None, extra: dict | None = None,
                        tensorboard: bool = False, plots: bool = True, files: dict | None = None) -> SweepResult:
    """Trains `grid` into the run directory `workdir`: config.json, flags.txt, the live metrics stream,
    summary.csv, metrics.npz, progress.json and (if `plots`) PNGs.

    Resumes the sweep already in `workdir` if its config.json is the same; raises
    ConfigError (one line) if it differs, unless `overwrite`. After each batch the
    runs finished so far are written, so an interrupted sweep leaves readable results.
    `dataset`, `model`, `task`: as run_sweep (the operation table and cfg.model by default);
    describe them in `extra` (flat name -> value), so the resume check covers them. `files`: other
    JSON files written with config.json once the workdir is checked (name -> object, e.g. shard.json).
    With several processes (launch/sweep.py on several hosts) every process trains its
    devices' share of each batch and checkpoints it; process 0 writes every other file.
    """
    config = experiment_config(cfg, grid, axes, max_runs_per_batch, checkpoint, extra)
    main = devices.is_main_process()
    resuming = devices.on_main_process(lambda: run_dir.start(workdir, config, flags_text, overwrite, files))
    finished = resuming and main and bool((run_dir.read_progress(workdir) or {}).get("complete"))
    if resuming and main:  # the other processes waited for the workdir
        print(f"{'reading back the finished' if finished else 'resuming the'} sweep in {workdir}"
              + ("" if finished else " from its checkpoints"))
    n_runs = grid_size(grid)

    def write_partial(partial: SweepResult) -> None:
        done = len(partial.diverged)
        if done < n_runs:  # the final results are written below, with the plots
            summary = summarize(partial)
            run_dir.write_results(workdir, partial, summary, seed_point_times(summary, partial.grid, axes))
            run_dir.write_progress(workdir, done, n_runs, complete=False)

    live = None
    if main:
        live = LiveMetrics(workdir, grid, eval_steps(cfg.steps, cfg.eval_every, cfg.eval_schedule), tensorboard)
    start = time.time()
    result = run_sweep(cfg, grid, dataset=dataset, model=model, task=task,
                       max_runs_per_batch=max_runs_per_batch, keep_params=False, progress=progress and main,
                       checkpoints=SweepCheckpoints(workdir, checkpoint),
                       on_progress=write_partial if main and not finished else None, live=live)
    if not main or finished:  # a finished sweep's files are already written: only read back
        return result
    summary = summarize(result)
    points = seed_point_times(summary, result.grid, axes)
    run_dir.write_results(workdir, result, summary, points)
    run_dir.write_progress(workdir, n_runs, n_runs, complete=False)  # complete once the plots are written too
    if plots:
        write_plots(workdir, result, summary, axes, points)
    run_dir.write_progress(workdir, n_runs, n_runs, complete=True)
    print(f"{n_runs} runs in {time.time() - start:.1f}s; results in {workdir}")
    return result


def run_set_member(workdir: str, label: str, cfg: StaticConfig, grid: Grid, axes: list[str], *,
                   keep_params: bool = False, **options) -> SweepResult:
    """One sweep of a labelled set (run_dir.SweepSet) trained into workdir/sweeps/<label>/ by
    run_grid_experiment (`options`): the same command resumes it, a finished one is only read back.
    `keep_params`: with the final parameters, read back from each batch's last checkpoint."""
    out = run_dir.SweepSet(workdir).path(label)
    result = run_grid_experiment(cfg, grid, out, axes, **options)
    if keep_params:
        from grokjax.checkpoint.reader import load_sweep  # local: the reader imports this package
        result = dataclasses.replace(result, params=load_sweep(out, params=True).params)
    return result


def plot_title(cfg: StaticConfig, grid: Grid, axes: list[str]) -> str:
    """The plots' title: the static setting, and the hyperparameters held fixed over the grid that
    tell sweeps apart (lr and wd always, the others when not at their defaults)."""
    fixed = [f"{k}={grid[k][0]:g}" for k, spec in HPARAMS.items()
             if k not in axes and len(np.unique(grid[k])) == 1 and (k in ("lr", "wd") or grid[k][0] != spec.default)]
    return f"{cfg.op} p={cfg.p} {cfg.model} {cfg.loss} {cfg.optimizer}, {cfg.steps} steps" + \
        (f", {' '.join(fixed)}" if fixed else "")


def write_plots(workdir: str, result: SweepResult, summary: dict, axes: list[str], points: dict | None) -> None:
    """The sweep's PNGs; `points`: grid_points.csv's columns (seed_point_times), None without seeds."""
    cfg, grid = result.cfg, result.grid
    title = plot_title(cfg, grid, axes)
    if axes:
        x_axis, y_axis = axes[0], (axes[1] if len(axes) > 1 else None)
        for metric in ("final_train_acc", "final_val_acc"):
            run_dir.save_plot(os.path.join(workdir, f"{metric}.png"), plot_heatmap, summary[metric], grid, x_axis,
                              y_axis, f"{metric} (mean over seeds)\n{title}")
        if "phase" in summary:
            run_dir.save_plot(os.path.join(workdir, "phase_diagram.png"), plot_phase_diagram, summary["phase"], grid,
                              x_axis, y_axis, f"phase (Doshi et al. Table 2; mode over seeds)\n{title}")
    if axes and points is not None and np.isfinite(points["median_step"]).any():
        run_dir.save_plot(os.path.join(workdir, "grokking_time.png"), plot_grid_point_times, points, axes, title)
    labels = [", ".join(f"{a}={grid[a][i]:g}" for a in axes) or f"run {i}" for i in range(grid_size(grid))]
    order = np.linspace(0, grid_size(grid) - 1, min(12, grid_size(grid))).astype(int)
    run_dir.save_plot(os.path.join(workdir, "curves.png"), plot_curves, result.steps,
                      {k: result.curves[k][order] for k in ("train_acc", "val_acc")}, [labels[i] for i in order],
                      title)
