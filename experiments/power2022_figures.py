"""Power et al. (2022) "Grokking": each figure is one --figure mode of this script.

    python experiments/power2022_figures.py --flagfile=experiments/flags/power2022_fig1_left_cpu.flags \
        --workdir=runs/power2022_fig1_left

--figure=grokking       Fig 1 left + Fig 4: accuracy and loss curves on a log axis
--figure=learning_time  Fig 1 center: median steps to 99% val (and train) accuracy vs fraction
--figure=optimizers     Fig 2 left: best val accuracy vs fraction for the nine optimizer variants
--figure=operations     Fig 2 right: best val accuracy vs fraction for every operation (--ops)
--figure=embeddings     Fig 3: t-SNE of the output-layer rows (S5 by coset, Z_p by residue mod 8)
--figure=outliers       Fig 6: best val accuracy vs fraction for k outliers (--y_axis=outliers)
--figure=sharpness      Fig 7: phi sharpness vs val accuracy over seeds, Spearman rho and p

A figure is one or more sweeps (a static config x a vmapped grid): --workdir is a labelled set of
run directories (grokjax.train.run_dir.SweepSet), each sweep in workdir/sweeps/<label>/,
checkpointed with its live metrics stream, resumed chunk by chunk and reused when the same
command is run again; the figure's summary.csv (one row per run, `group` naming its
sweep/variant), metrics.npz, PNG(s) and figure.json are written to --workdir.
"""
from __future__ import annotations

import dataclasses
import json
import os
import time
from typing import NamedTuple

import jax
import numpy as np
import pandas as pd
from absl import flags

from grokjax import cli
from grokjax.analysis import embeddings as emb
from grokjax.analysis.sharpness import METHODS as SHARPNESS_METHODS
from grokjax.analysis.sharpness import sweep_sharpness
from grokjax.config import ConfigError, StaticConfig, validate_static
from grokjax.data.datasets import operation_dataset
from grokjax.data.operations import OPERATIONS, operation_names
from grokjax.plotting import power as plots
from grokjax.checkpoint.store import CheckpointOptions
from grokjax.train import run_dir
from grokjax.train.experiment import run_set_member
from grokjax.train.run import make_run_fns
from grokjax.train.summary import summarize
from grokjax.train.sweep import Grid, SweepResult, check_run_memory, make_grid

FIGURES = ("grokking", "learning_time", "optimizers", "operations", "embeddings", "outliers", "sharpness")
# Power et al. A.1.2, in the reading order of Figure 2 left: (static overrides, traced overrides).
# "Adam" is AdamW with wd = 0 (identical updates), so the variants share the static optimizer.
VARIANTS: dict[str, tuple[dict, dict]] = {
    "full_batch_adam": ({"batch_size": 0, "batch_rule": "fixed"}, {"wd": 0.0}),
    "adam": ({}, {"wd": 0.0}),
    "full_batch_adam_update_noise": ({"batch_size": 0, "batch_rule": "fixed"}, {"wd": 0.0, "grad_noise": 1.0}),
    "adam_dropout_0.1": ({}, {"wd": 0.0, "dropout": 0.1}),
    "adamw_wd_1": ({}, {"wd": 1.0}),
    "adamw_wd_1_to_init": ({"decay_to": "init"}, {"wd": 1.0}),
    # The paper's 3e-4 and 3e-3 around its base 1e-3: kept as factors of --lr.
    "adam_lr_x0.3": ({}, {"wd": 0.0, "lr_scale": 0.3}),
    "adam_lr_x3": ({}, {"wd": 0.0, "lr_scale": 3.0}),
    "adam_weight_noise_0.01": ({}, {"wd": 0.0, "weight_noise": 0.01}),
}

cli.define_flags()
flags.DEFINE_enum("figure", "grokking", FIGURES, "which figure of Power et al. (2022) to produce")
flags.DEFINE_list("ops", [], "operations,figure=operations (default: all of Power et al. A.1.1)")
flags.DEFINE_list("variants", list(VARIANTS), "optimizer variants, figure=optimizers")
flags.DEFINE_bool("group_variants", True, "figure=optimizers: variants that differ only in traced "
                  "hyperparameters share one vmapped sweep (false: one sweep per variant)")
flags.DEFINE_list("embedding_ops", ["s5_mul", "add"], "operations whose output rows figure=embeddings shows")
flags.DEFINE_float("tsne_perplexity", 30.0, "t-SNE perplexity (capped at (n - 1) / 3)")
flags.DEFINE_float("sharpness_epsilon", 1e-3, "Keskar et al. box size epsilon, figure=sharpness")
flags.DEFINE_integer("sharpness_steps", 20, "projected ascent steps (or L-BFGS-B iterations) maximizing the "
                     "loss in the box")
flags.DEFINE_enum("sharpness_method", "sign_ascent", SHARPNESS_METHODS, "how phi's inner maximization is solved: "
                  "sign_ascent (projected sign-gradient ascent, vmapped) or lbfgsb (Keskar et al.'s L-BFGS-B)")
flags.DEFINE_bool("vary_data_seed", False, "figure=sharpness: also vary the split with the seed "
                  "(Power et al. A.5 vary the initialization only)")
FLAGS = flags.FLAGS
SCRIPT_FLAGS = ("figure", "ops", "variants", "group_variants", "embedding_ops", "tsne_perplexity",
                "sharpness_epsilon", "sharpness_steps", "sharpness_method", "vary_data_seed")


class Sweep(NamedTuple):
    label: str
    cfg: StaticConfig
    grid: Grid
    groups: np.ndarray  # (G,) group name of each run (a variant, an operation, ...)
    keep_params: bool = False


def concat_grids(grids: list[Grid]) -> Grid:
    return {k: np.concatenate([g[k] for g in grids]) for k in grids[0]}


def variant_hparams(base: dict, overrides: dict) -> dict:
    hp = {**base, **{k: v for k, v in overrides.items() if k != "lr_scale"}}
    hp["lr"] = base["lr"] * overrides.get("lr_scale", 1.0)
    return hp


def build_sweeps(figure: str, cfg: StaticConfig, base: dict, axes: list, seeds: int, seed: int,
                 data_seed: int | None) -> list[Sweep]:
    """The sweeps a figure needs; ConfigError (one line) for bad settings."""
    grid_of = lambda b: make_grid(b, axes, seeds=seeds, seed=seed, data_seed=data_seed)  # noqa: E731
    if figure in ("grokking", "learning_time", "outliers"):
        grid = grid_of(base)
        groups = np.asarray([f"k={int(k)}" for k in grid["outliers"]]) if figure == "outliers" else \
            np.full(len(grid["frac"]), cfg.op)
        return [Sweep("main", cfg, grid, groups)]
    if figure == "sharpness":
        grid = grid_of(base)
        if not FLAGS.vary_data_seed:  # A.5: different initialization seeds, one split
            grid["data_seed"][:] = grid["data_seed"][0]
        return [Sweep("main", cfg, grid, np.full(len(grid["frac"]), cfg.op), keep_params=True)]
    if figure == "optimizers":
        unknown = [v for v in FLAGS.variants if v not in VARIANTS]
        if unknown:
            raise ConfigError(f"--variants={unknown[0]} is unknown; choose from: {', '.join(VARIANTS)}")
        by_static: dict[str, list[str]] = {}
        for name in FLAGS.variants:  # variants differing only in traced hparams share one sweep
            key = json.dumps(VARIANTS[name][0], sort_keys=True) if FLAGS.group_variants else name
            by_static.setdefault(key, []).append(name)
        sweeps = []
        for names in by_static.values():
            grids = [grid_of(variant_hparams(base, VARIANTS[n][1])) for n in names]
            groups = np.concatenate([np.full(len(g["frac"]), n) for n, g in zip(names, grids)])
            sweep_cfg = dataclasses.replace(cfg, optimizer="adamw", **VARIANTS[names[0]][0])
            label = names[0] if len(names) == 1 else \
                "_".join(f"{k}-{v}" for k, v in sorted(VARIANTS[names[0]][0].items())) or "minibatch"
            sweeps.append(Sweep(label, sweep_cfg, concat_grids(grids), groups))
        return sweeps
    if figure == "operations":  # default: A.1.1's twelve (`mul` is Doshi et al.'s addition)
        ops = FLAGS.ops or [op for op in operation_names() if op != "mul"]
    else:
        ops = FLAGS.embedding_ops
    for op in ops:
        if op not in OPERATIONS:
            raise ConfigError(f"--ops={op} is unknown; choose from: {', '.join(operation_names())}")
    sweeps = []
    for op in ops:
        grid = grid_of(base)
        sweeps.append(Sweep(op, dataclasses.replace(cfg, op=op), grid, np.full(len(grid["frac"]), op),
                            keep_params=figure == "embeddings"))
    return sweeps


# ----------------------------------------------------------------------------- storage


def figure_config(figure: str, cfg: StaticConfig, sweeps: list[Sweep]) -> dict:
    """The figure's config.json: a labelled set of sweeps (each also has its own in sweeps/<label>/)."""
    return run_dir.sweep_set_config(cfg, {s.label: {"static": dataclasses.asdict(s.cfg), "groups": s.groups.tolist(),
                                                    "grid": {k: v.tolist() for k, v in s.grid.items()}}
                                          for s in sweeps}, {"figure": figure})


def run_or_load(sweep: Sweep, workdir: str, axes: list[str], max_runs_per_batch: int, progress: bool,
                flags_text: str, overwrite: bool, tensorboard: bool = False) -> SweepResult:
    """Trains a sweep into workdir/sweeps/<label>/ as a checkpointed run directory: the same
    command resumes it chunk by chunk (a different sweep there is refused unless `overwrite`).
    A finished sweep is only read back (with its final parameters if the figure needs them)."""
    start = time.time()
    result = run_set_member(workdir, sweep.label, sweep.cfg, sweep.grid, axes, keep_params=sweep.keep_params,
                            flags_text=flags_text, max_runs_per_batch=max_runs_per_batch, progress=progress,
                            checkpoint=CheckpointOptions(every=1), overwrite=overwrite, tensorboard=tensorboard)
    print(f"sweep {sweep.label}: {len(sweep.groups)} runs in {time.time() - start:.0f}s")
    return result


# ----------------------------------------------------------------------------- analysis


def val_loss_double_descent(val_loss_T: np.ndarray) -> dict[str, float]:
    """First minimum, the peak after it and the minimum after the peak of one val-loss curve.

    The curve descends twice when first_min < the initial value, peak > first_min and
    second_min < peak (Power et al. Figure 4: val loss rises from ~1e2 to ~1e5 steps, then falls).
    """
    v = np.where(np.isnan(val_loss_T), -np.inf, val_loss_T)
    i_peak = int(np.argmax(v))
    finite = np.isfinite(v)
    v = np.where(finite, v, np.nan)
    first = float(np.nanmin(v[:i_peak + 1]))
    second = float(np.nanmin(v[i_peak:]))
    return {"val_loss_initial": float(v[0]), "val_loss_first_min": first, "val_loss_peak": float(v[i_peak]),
            "val_loss_peak_index": i_peak, "val_loss_second_min": second}


def spearman(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    from scipy.stats import spearmanr

    if np.ptp(x) == 0 or np.ptp(np.nan_to_num(y, posinf=1e30)) == 0:  # undefined for a constant input
        return float("nan"), float("nan")
    res = spearmanr(x, y)
    return float(res.statistic), float(res.pvalue)


def partial_spearman(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> float:
    """Spearman correlation of x and y with z partialled out: the Pearson correlation of the
    residuals of rank(x) and rank(y) after a linear fit on rank(z)."""
    from scipy.stats import rankdata

    rx, ry, rz = (rankdata(v) for v in (x, y, z))

    def residual(r):
        slope, intercept = np.polyfit(rz, r, 1)
        return r - (slope * rz + intercept)
    ex, ey = residual(rx), residual(ry)
    denominator = np.sqrt(np.sum(ex ** 2) * np.sum(ey ** 2))
    return float(np.sum(ex * ey) / denominator) if denominator > 0 else float("nan")


def run_data_of(result: SweepResult, dataset):
    """Each run's split and labels, regenerated from its data seed exactly as training made them."""
    init = jax.jit(jax.vmap(make_run_fns(result.cfg, dataset).init))
    return init({k: np.asarray(v) for k, v in result.grid.items()}).data


def task_name(cfg: StaticConfig) -> str:
    # An S5 operation ignores p (its table is the 120 x 120 group table), so naming p would mislead.
    return f"{cfg.op} (S5)" if OPERATIONS[cfg.op].is_group_s5 else f"{cfg.op} p={cfg.p}"


def describe(cfg: StaticConfig, task: str | None = None) -> str:
    """The settings for a plot title; `task` replaces task_name(cfg) ("" names no task)."""
    task = task_name(cfg) if task is None else task
    return (f"{task} {cfg.model} w={cfg.width} L={cfg.depth} {cfg.optimizer} "
            f"batch={cfg.batch_size or 'full'}, {cfg.steps} steps").lstrip()


def make_figure(figure: str, sweeps: list[Sweep], results: list[SweepResult], workdir: str) -> dict:
    """Draws the figure from the sweeps' results; returns figure.json's numbers."""
    cfg = sweeps[0].cfg
    task = None
    if figure in ("operations", "embeddings"):  # several operations: name none of them
        task = "" if OPERATIONS[cfg.op].is_group_s5 else f"p={cfg.p}"
    title = f"Power et al. (2022) {figure}: {describe(cfg, task)}"
    if figure == "optimizers":  # the sweeps differ in batch size: name none
        title = title.replace(f"batch={cfg.batch_size or 'full'}", "batch per variant")
    groups = np.concatenate([s.groups for s in sweeps])
    summary = pd.concat([pd.DataFrame(summarize(r)) for r in results], ignore_index=True)
    summary.insert(1, "group", groups)
    report: dict = {"figure": figure}
    if figure == "grokking":
        r = results[0]
        swept = [k for k in ("frac", "wd", "lr") if len(np.unique(r.grid[k])) > 1]
        seeds = len(np.unique(r.grid["model_seed"])) > 1
        labels = [", ".join([*(f"{k}={r.grid[k][i]:g}" for k in swept),
                             *([f"seed {r.grid['model_seed'][i]}"] if seeds else [])]) for i in range(len(r.grid["frac"]))]
        run_dir.save_plot(os.path.join(workdir, "grokking.png"), plots.plot_grokking, r.steps, r.curves, title, labels)
        dd = pd.DataFrame([val_loss_double_descent(v) for v in r.curves["val_loss"]])
        dd["val_loss_peak_step"] = r.steps[dd["val_loss_peak_index"].to_numpy()]
        summary = pd.concat([summary, dd.drop(columns="val_loss_peak_index")], axis=1)
        report["runs"] = summary[["frac", "model_seed", "step_train_acc_99", "step_val_acc_99", "final_val_acc",
                                  "val_loss_first_min", "val_loss_peak", "val_loss_peak_step",
                                  "val_loss_second_min"]].to_dict("records")
    elif figure == "learning_time":
        run_dir.save_plot(os.path.join(workdir, "learning_time.png"), plots.plot_learning_time,
                          summary["frac"].to_numpy(), summary["step_val_acc_99"].to_numpy(),
                          summary["step_train_acc_99"].to_numpy(), cfg.steps, title)
        rows = []
        for name in ("step_val_acc_99", "step_train_acc_99"):
            xs, med, reached = plots.median_by(summary["frac"].to_numpy(), summary[name].to_numpy())
            rows.append({"metric": name, "frac": xs.tolist(), "median": med.tolist(), "reached": reached.tolist()})
        report["medians"] = rows
    elif figure in ("optimizers", "operations", "outliers"):
        png = {"optimizers": "optimizers.png", "operations": "operations.png", "outliers": "outliers.png"}[figure]
        run_dir.save_plot(os.path.join(workdir, png), plots.plot_data_efficiency, summary["frac"].to_numpy(),
                          summary["best_val_acc"].to_numpy(), groups, title,
                          {"outliers": "outliers k", "optimizers": "variant"}.get(figure, "operation"))
        table = summary.groupby(["group", "frac"], sort=False)["best_val_acc"].mean().unstack()
        report["best_val_acc_mean"] = {g: {f"{f:g}": v for f, v in row.items()} for g, row in table.iterrows()}
        report["final_train_acc_min"] = float(summary["final_train_acc"].min())
    elif figure == "embeddings":
        panels, report["runs"] = [], []
        for sweep, r in zip(sweeps, results):
            params = {k: v for k, v in r.params.items()}
            rows = emb.output_rows(jax.tree.map(lambda a: a[0], params))
            points = emb.tsne(rows, seed=0, perplexity=FLAGS.tsne_perplexity)
            val = float(summarize(r)["final_val_acc"][0])
            if OPERATIONS[sweep.cfg.op].is_group_s5:  # coloured by the cosets the rows follow best
                labels, index, side, _ = emb.best_conjugate_cosets(rows, emb.figure3_subgroup())
                stats = emb.s5_embedding_report(rows, points)
                subgroup = "H" if index == 0 else f"conjugate {index} of H"
                name = (f"{sweep.cfg.op}: {side} cosets of {subgroup}, H = <(0,3)(1,4),(1,2)(3,4)> "
                        f"(val acc {val:.2f})")
                panels.append({"points": points, "labels": labels, "name": name})
            else:
                labels = np.arange(len(rows)) % 8
                stats = emb.modular_embedding_report(rows, points)
                name = f"{sweep.cfg.op} mod {sweep.cfg.p}: colour = residue mod 8, lines c -> c+8 (val acc {val:.2f})"
                panels.append({"points": points, "labels": labels, "name": name, "shift": 8, "annotate": True})
            report["runs"].append({"op": sweep.cfg.op, "final_val_acc": val, **stats})
            run_dir.write_npz(os.path.join(workdir, f"tsne_{sweep.label}.npz"), points=points, rows=rows, labels=labels)
        run_dir.save_plot(os.path.join(workdir, "embeddings.png"), plots.plot_embeddings, panels, title)
    elif figure == "sharpness":
        r = results[0]
        dataset = operation_dataset(cfg.op, cfg.p)
        phi = sweep_sharpness(r.cfg, dataset, r.params, run_data_of(r, dataset),
                              epsilon=FLAGS.sharpness_epsilon, steps=FLAGS.sharpness_steps,
                              method=FLAGS.sharpness_method)
        summary["phi"] = phi
        val = summary["final_val_acc"].to_numpy()
        rho, pvalue = spearman(phi, val)
        run_dir.save_plot(os.path.join(workdir, "sharpness.png"), plots.plot_sharpness, phi, val, rho, pvalue, title)
        # Also against how late each run generalized (never = last): flat minima grok early?
        late = np.nan_to_num(summary["step_val_acc_99"].to_numpy(), nan=np.inf)
        rho_steps, p_steps = spearman(phi, late)
        # phi is normalized by 1 + L and runs that generalized fit their training set further: how much
        # of rho is the training loss? Its Spearman with phi, and rho with the loss partialled out.
        loss = summary["final_train_loss"].to_numpy()
        rho_loss, p_loss = spearman(phi, loss)
        report.update(spearman_rho=rho, p_value=pvalue, n=len(phi), epsilon=FLAGS.sharpness_epsilon,
                      method=FLAGS.sharpness_method, steps=FLAGS.sharpness_steps,
                      grokked=int(np.sum(val >= 0.9)), spearman_rho_phi_vs_step_val_acc_99=rho_steps,
                      p_value_phi_vs_step_val_acc_99=p_steps, spearman_rho_phi_vs_train_loss=rho_loss,
                      p_value_phi_vs_train_loss=p_loss, partial_spearman_rho_given_train_loss=partial_spearman(
                          phi, val, loss))
    run_dir.write_csv(os.path.join(workdir, run_dir.SUMMARY), {c: summary[c].to_numpy() for c in summary.columns})
    curves = {k: np.concatenate([r.curves[k] for r in results])
              for k in results[0].curves if all(k in r.curves for r in results)}
    grid = {k: np.concatenate([r.grid[k] for r in results]) for k in results[0].grid}
    run_dir.write_npz(os.path.join(workdir, run_dir.METRICS),
                      **run_dir.pack_metrics(results[0].steps, curves, grid, group=groups.astype(str)))
    run_dir.write_json(os.path.join(workdir, run_dir.FIGURE), report)
    return report


def main(argv):
    del argv  # cli.parse_flags_or_exit already refused positional arguments
    try:
        cfg, axes = cli.config_and_axes()
        sweeps = build_sweeps(FLAGS.figure, cfg, cli.base_hparams(), axes, FLAGS.seeds, FLAGS.seed,
                              None if FLAGS.data_seed < 0 else FLAGS.data_seed)
        for sweep in sweeps:  # before anything is written: settings, then the memory one run needs
            validate_static(sweep.cfg)
            check_run_memory(sweep.cfg, sweep.grid, operation_dataset(sweep.cfg.op, sweep.cfg.p),
                             FLAGS.memory_budget_gb)
        cli.checkpoint_options(cfg)  # --tensorboard's package, before anything is written
        text = cli.flags_text(SCRIPT_FLAGS)
        run_dir.start(FLAGS.workdir, figure_config(FLAGS.figure, cfg, sweeps), text, FLAGS.overwrite)
        start = time.time()
        axes = [name for name, _ in cli.sweep_axes()]
        results = [run_or_load(s, FLAGS.workdir, axes, FLAGS.max_runs_per_batch, FLAGS.progress, text,
                               FLAGS.overwrite, FLAGS.tensorboard) for s in sweeps]
    except ConfigError as err:
        cli.exit_on_config_error(err)
    report = make_figure(FLAGS.figure, sweeps, results, FLAGS.workdir)
    print(json.dumps(report, indent=1, default=float)[:4000])
    print(f"{FLAGS.figure}: {sum(len(s.groups) for s in sweeps)} runs in {time.time() - start:.0f}s; "
          f"results in {FLAGS.workdir}")


if __name__ == "__main__":
    cli.run_script(main)
