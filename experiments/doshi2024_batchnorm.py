"""Doshi et al. (2024) Figures 5 and 15: BatchNorm weights against the IPR of the neurons they scale.

Figure 5 (the eq. 1 MLP, --depth=1): IPR with and without BatchNorm; gamma_k against neuron IPR.

    python experiments/phase_diagram.py --flagfile=experiments/flags/doshi2024_fig5.flags --workdir=runs/fig5_bn
    python experiments/phase_diagram.py --flagfile=experiments/flags/doshi2024_fig5.flags --norm=none \
        --workdir=runs/fig5_nonorm
    python experiments/doshi2024_batchnorm.py --bn_workdir=runs/fig5_bn --plain_workdir=runs/fig5_nonorm

Figure 15 (a deeper MLP, e.g. the 3-layer ReLU MLP, --depth=2): the training curve, the row-wise
IPR of the input layer and the column-wise IPR of the output layer, and each against |gamma_k| of
the BatchNorm next to it (batchnorm_0 after the input layer, the last one right before W).
--plain_workdir is optional here (the same sweep with --norm=none: its histograms are drawn too).

    python experiments/phase_diagram.py --flagfile=experiments/flags/doshi2024_fig15_mlp3_batchnorm_cpu.flags \
        --workdir=runs/fig15_bn
    python experiments/doshi2024_batchnorm.py --bn_workdir=runs/fig15_bn --run=0

Writes <prefix>_ipr_hist.png, <prefix>_batchnorm.png (the scatters), for depth > 1 also
<prefix>_curves.png, and <prefix>_numbers.json (accuracies, phase, mean IPRs, the fraction of
neurons with IPR < 0.2, Pearson and Spearman correlations of gamma_k and |gamma_k| with IPR_k)
to --out; <prefix> is fig5 or fig15 unless --prefix is given.
"""
from __future__ import annotations

import json
import os

import jax
import numpy as np
from absl import flags

from grokjax import cli
from grokjax.analysis.batchnorm import batchnorm_layers, ipr_gamma_correlations, layer_iprs
from grokjax.checkpoint.reader import load_run_dir
from grokjax.config import ConfigError
from grokjax.plotting import doshi as plots
from grokjax.train.run_dir import write_numbers

FLAGS = flags.FLAGS
# Each flag only if missing: the scripts are importable together (tests).
for _define, _name, _default, _help in (
        (flags.DEFINE_string, "bn_workdir", "", "finished run directory of the BatchNorm network (with snapshots)"),
        (flags.DEFINE_string, "plain_workdir", "", "finished run directory of the same network without BatchNorm "
                                                    "(required for the eq. 1 MLP, optional deeper)"),
        (flags.DEFINE_string, "out", "docs/figures/doshi2024", "directory for the PNGs and the numbers JSON"),
        (flags.DEFINE_string, "prefix", "", "file name prefix (empty: fig5 for depth 1, fig15 deeper)"),
        (flags.DEFINE_integer, "run", 0, "which run of the sweeps (summary.csv row) to analyze"),
):
    if _name not in FLAGS:
        _define(_name, _default, _help)

LOW_IPR = 0.2  # as experiments/doshi2024_embedding_ipr.py
LAYER_LABELS = {"neuron": "neuron IPR", "input": "input layer: row IPR (U, V)",
                "output": "output layer: column IPR (W)"}


def _final_run(workdir: str, run: int):
    """(cfg, grid, metrics, summary, the run's final parameters) of a finished sweep."""
    cfg, grid, metrics, summary, steps, params_at = load_run_dir(workdir)
    if not 0 <= run < len(summary):
        raise ConfigError(f"--run={run} is not allowed; {workdir} has runs 0..{len(summary) - 1}")
    return cfg, grid, metrics, summary, jax.tree.map(lambda a: a[run], params_at(steps[-1]))


def _suffix(layer: str) -> str:
    return "" if layer == "neuron" else f"_{layer}"  # Figure 5's numbers keep their names


def batchnorm_experiment(bn_workdir: str, plain_workdir: str, out: str, run: int = 0, prefix: str = "") -> dict:
    cfg, grid, metrics, bn_summary, bn_params = _final_run(bn_workdir, run)
    try:
        layers = batchnorm_layers(bn_params)
    except KeyError:
        raise ConfigError(f"{bn_workdir} was not trained with --norm=batchnorm") from None
    deep = "neuron" not in layers
    if not deep and not plain_workdir:
        raise ConfigError("--plain_workdir is required for the eq. 1 MLP (Figure 5 compares the two)")
    prefix = prefix or ("fig15" if deep else "fig5")
    numbers = {"bn_workdir": bn_workdir, "run": run, "depth": cfg.depth,
               **{k: round(float(grid[k][run]), 6) for k in ("frac", "xi", "wd")},
               "bn_final_train_acc": float(bn_summary["final_train_acc"][run]),
               "bn_final_val_acc": float(bn_summary["final_val_acc"][run]),
               "bn_phase": str(bn_summary["phase"][run])}
    for key in ("final_train_corrupt_acc", "best_val_acc"):
        if key in bn_summary:
            numbers[f"bn_{key}"] = float(bn_summary[key][run])
    hists, titles = [], []
    plain = None
    if plain_workdir:
        _, _, _, plain_summary, plain_params = _final_run(plain_workdir, run)
        plain = layer_iprs(plain_params)
        numbers.update({"plain_final_train_acc": float(plain_summary["final_train_acc"][run]),
                        "plain_final_val_acc": float(plain_summary["final_val_acc"][run]),
                        "plain_phase": str(plain_summary["phase"][run])})
    for layer, (ipr, gamma) in layers.items():
        sfx = _suffix(layer)
        numbers[f"mean_ipr{sfx}_bn"] = float(np.nanmean(ipr))
        numbers[f"frac_ipr{sfx}_below_{LOW_IPR}_bn"] = float(np.mean(ipr < LOW_IPR))
        numbers.update({f"{k}{sfx}": v for k, v in ipr_gamma_correlations(ipr, gamma).items()})
        label = "" if layer == "neuron" else f"{layer} layer, "
        if plain is not None:
            numbers[f"mean_ipr{sfx}_plain"] = float(np.nanmean(plain[layer]))
            numbers[f"frac_ipr{sfx}_below_{LOW_IPR}_plain"] = float(np.mean(plain[layer] < LOW_IPR))
            hists.append(plain[layer])
            titles.append(f"{label}no norm: {numbers['plain_phase']}")
        hists.append(ipr)
        titles.append(f"{label}BatchNorm: {numbers['bn_phase']}")

    os.makedirs(out, exist_ok=True)
    path = lambda name: os.path.join(out, f"{prefix}_{name}.png")  # noqa: E731
    plots.plot_ipr_histograms(path("ipr_hist"), hists, titles,
                              "neuron IPR" if not deep else "IPR (input rows / output columns)")
    if deep:
        xi = numbers["xi"]
        one_run = {k: v[[run]] for k, v in metrics.items() if k != "steps"}
        plots.plot_training_curves(path("curves"), metrics["steps"], one_run,
                                   [f"{cfg.depth + 1}-layer MLP + BatchNorm, frac {numbers['frac']:g}, xi {xi:g}: "
                                    f"{numbers['bn_phase']}"], xi)
        # The paper plots |gamma_k| for the deeper MLP, gamma_k for Figure 5.
        panels = [(layers[layer][0], np.abs(layers[layer][1]), LAYER_LABELS[layer], "|BatchNorm weight gamma_k|",
                   f"Pearson r = {numbers[f'pearson_ipr_abs_gamma_{layer}']:.2f}, "
                   f"Spearman = {numbers[f'spearman_ipr_abs_gamma_{layer}']:.2f}")
                  for layer in ("output", "input")]
    else:
        ipr, gamma = layers["neuron"]
        panels = [(ipr, gamma, "neuron IPR", "BatchNorm weight gamma_k",
                   f"Pearson r = {numbers['pearson_ipr_gamma']:.2f}, "
                   f"Spearman = {numbers['spearman_ipr_gamma']:.2f}")]
    plots.plot_scatters(path("batchnorm"), panels)
    return write_numbers(out, f"{prefix}_numbers.json", numbers)


def main(argv):
    del argv  # cli.parse_flags_or_exit already refused positional arguments
    try:
        if not FLAGS.bn_workdir:
            raise ConfigError("--bn_workdir is required: a finished BatchNorm sweep with parameter snapshots")
        print(json.dumps(batchnorm_experiment(FLAGS.bn_workdir, FLAGS.plain_workdir, FLAGS.out, FLAGS.run,
                                              FLAGS.prefix)))
    except (ConfigError, FileNotFoundError) as err:
        cli.exit_on_config_error(ConfigError(str(err).splitlines()[0]))


if __name__ == "__main__":
    cli.run_script(main)
