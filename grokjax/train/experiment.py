"""A sweep from configuration to finished run directory."""
from __future__ import annotations

import dataclasses
import io
import os
import time

import numpy as np

from grokjax.checkpoint.store import CheckpointOptions, SweepCheckpoints
from grokjax.config import HPARAMS, StaticConfig
from grokjax.plotting.phase_diagram import plot_curves, plot_heatmap, plot_phase_diagram
from grokjax.train import devices
from grokjax.train.summary import summarize
from grokjax.train.sweep import Grid, SweepResult, grid_size, run_sweep
from grokjax.workdir import PROGRESS_FILE, atomic_write_bytes, prepare_workdir, write_json, write_results


def experiment_config(cfg: StaticConfig, grid: Grid, axes: list[str], max_runs_per_batch: int,
                      checkpoint: CheckpointOptions = CheckpointOptions()) -> dict:
    """config.json: everything the results depend on. A rerun resumes only if it is unchanged."""
    return {"static": dataclasses.asdict(cfg), "axes": list(axes), "n_runs": grid_size(grid),
            "grid": {k: v.tolist() for k, v in grid.items()}, "max_runs_per_batch": int(max_runs_per_batch),
            "snapshot_steps": list(checkpoint.snapshot_steps), "snapshot_dtype": checkpoint.snapshot_dtype}


def run_grid_experiment(cfg: StaticConfig, grid: Grid, workdir: str, axes: list[str], *,
                        flags_text: str = "", max_runs_per_batch: int = 64, progress: bool = True,
                        checkpoint: CheckpointOptions = CheckpointOptions(),
                        overwrite: bool = False) -> SweepResult:
    """Trains `grid` and writes config.json, flags.txt, summary.csv, metrics.npz and PNGs.

    Resumes the sweep already in `workdir` if its config.json is the same; raises
    ConfigError (one line) if it differs, unless `overwrite`. After each batch the
    runs finished so far are written, so an interrupted sweep leaves readable results.
    With several processes (launch/sweep.py on several hosts) every process trains its
    devices' share of each batch and checkpoints it; process 0 writes every other file.
    """
    config = experiment_config(cfg, grid, axes, max_runs_per_batch, checkpoint)
    main = devices.is_main_process()

    def prepare() -> bool:
        resuming = prepare_workdir(workdir, config, overwrite=overwrite)
        write_json(os.path.join(workdir, "config.json"), config)
        if flags_text:
            atomic_write_bytes(os.path.join(workdir, "flags.txt"), flags_text.encode())
        return resuming

    if devices.on_main_process(prepare) and main:  # the others wait until the workdir is ready
        print(f"resuming the sweep in {workdir} from its checkpoints")
    n_runs = grid_size(grid)

    def write_partial(partial: SweepResult) -> None:
        done = len(partial.diverged)
        if done < n_runs:  # the final results are written below, with the plots
            write_results(workdir, partial, summarize(partial))
            write_progress(workdir, done, n_runs, complete=False)

    start = time.time()
    result = run_sweep(cfg, grid, max_runs_per_batch=max_runs_per_batch, keep_params=False,
                       progress=progress and main, checkpoints=SweepCheckpoints(workdir, checkpoint),
                       on_progress=write_partial if main else None)
    if not main:
        return result
    summary = summarize(result)
    write_results(workdir, result, summary)
    write_progress(workdir, n_runs, n_runs, complete=False)  # complete once the plots are written too
    write_plots(workdir, result, summary, axes)
    write_progress(workdir, n_runs, n_runs, complete=True)
    print(f"{n_runs} runs in {time.time() - start:.1f}s; results in {workdir}")
    return result


def write_progress(workdir: str, runs_done: int, n_runs: int, complete: bool) -> None:
    write_json(os.path.join(workdir, PROGRESS_FILE), {"runs_done": runs_done, "n_runs": n_runs,
                                                       "complete": complete})


def _save_png(path: str, plot, *args) -> None:
    """Renders into memory, then writes atomically: a kill never leaves half a PNG."""
    buf = io.BytesIO()
    plot(buf, *args)
    atomic_write_bytes(path, buf.getvalue())


def plot_title(cfg: StaticConfig, grid: Grid, axes: list[str]) -> str:
    """The plots' title: the static setting, and the hyperparameters held fixed over the grid that
    tell sweeps apart (lr and wd always, the others when not at their defaults)."""
    fixed = [f"{k}={grid[k][0]:g}" for k, spec in HPARAMS.items()
             if k not in axes and len(np.unique(grid[k])) == 1 and (k in ("lr", "wd") or grid[k][0] != spec.default)]
    return f"{cfg.op} p={cfg.p} {cfg.model} {cfg.loss} {cfg.optimizer}, {cfg.steps} steps" + \
        (f", {' '.join(fixed)}" if fixed else "")


def write_plots(workdir: str, result: SweepResult, summary: dict, axes: list[str]) -> None:
    cfg, grid = result.cfg, result.grid
    title = plot_title(cfg, grid, axes)
    if axes:
        x_axis, y_axis = axes[0], (axes[1] if len(axes) > 1 else None)
        for metric in ("final_train_acc", "final_val_acc"):
            _save_png(os.path.join(workdir, f"{metric}.png"), plot_heatmap, summary[metric], grid, x_axis, y_axis,
                      f"{metric} (mean over seeds)\n{title}")
        if "phase" in summary:
            _save_png(os.path.join(workdir, "phase_diagram.png"), plot_phase_diagram, summary["phase"], grid,
                      x_axis, y_axis, f"phase (Doshi et al. Table 2; mode over seeds)\n{title}")
    labels = [", ".join(f"{a}={grid[a][i]:g}" for a in axes) or f"run {i}" for i in range(grid_size(grid))]
    order = np.linspace(0, grid_size(grid) - 1, min(12, grid_size(grid))).astype(int)
    _save_png(os.path.join(workdir, "curves.png"), plot_curves, result.steps,
              {k: result.curves[k][order] for k in ("train_acc", "val_acc")}, [labels[i] for i in order],
              title)
