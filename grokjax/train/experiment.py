"""A sweep from configuration to finished run directory."""
from __future__ import annotations

import dataclasses
import os
import time

import numpy as np

from grokjax.config import StaticConfig
from grokjax.plotting.phase_diagram import plot_curves, plot_heatmap, plot_phase_diagram
from grokjax.train.summary import summarize
from grokjax.train.sweep import Grid, SweepResult, grid_size, run_sweep
from grokjax.workdir import write_json, write_results


def run_grid_experiment(cfg: StaticConfig, grid: Grid, workdir: str, axes: list[str], *,
                        flags_text: str = "", max_runs_per_batch: int = 64,
                        progress: bool = True) -> SweepResult:
    """Trains `grid` and writes config.json, flags.txt, summary.csv, metrics.npz and PNGs."""
    config = {"static": dataclasses.asdict(cfg), "axes": axes, "n_runs": grid_size(grid),
              "grid": {k: v.tolist() for k, v in grid.items()}}
    write_json(os.path.join(workdir, "config.json"), config)
    if flags_text:
        with open(os.path.join(workdir, "flags.txt"), "w") as f:
            f.write(flags_text)
    start = time.time()
    result = run_sweep(cfg, grid, max_runs_per_batch=max_runs_per_batch, keep_params=False, progress=progress)
    summary = summarize(result)
    write_results(workdir, result, summary)
    write_plots(workdir, result, summary, axes)
    print(f"{grid_size(grid)} runs in {time.time() - start:.1f}s; results in {workdir}")
    return result


def write_plots(workdir: str, result: SweepResult, summary: dict, axes: list[str]) -> None:
    cfg, grid = result.cfg, result.grid
    title = f"{cfg.op} p={cfg.p} {cfg.model} {cfg.loss} {cfg.optimizer}, {cfg.steps} steps"
    if axes:
        x_axis, y_axis = axes[0], (axes[1] if len(axes) > 1 else None)
        for metric in ("final_train_acc", "final_val_acc"):
            plot_heatmap(os.path.join(workdir, f"{metric}.png"), summary[metric], grid, x_axis, y_axis,
                         f"{metric} (mean over seeds)\n{title}")
        if "phase" in summary:
            plot_phase_diagram(os.path.join(workdir, "phase_diagram.png"), summary["phase"], grid, x_axis,
                               y_axis, f"phase (Doshi et al. Table 2; mode over seeds)\n{title}")
    labels = [", ".join(f"{a}={grid[a][i]:g}" for a in axes) or f"run {i}" for i in range(grid_size(grid))]
    order = np.linspace(0, grid_size(grid) - 1, min(12, grid_size(grid))).astype(int)
    plot_curves(os.path.join(workdir, "curves.png"), result.steps,
                {k: result.curves[k][order] for k in ("train_acc", "val_acc")}, [labels[i] for i in order],
                title, log_x=cfg.eval_schedule == "log")
