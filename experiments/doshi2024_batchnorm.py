"""Doshi et al. (2024) Figure 5: IPR with and without BatchNorm; BatchNorm weight against neuron IPR.

    python experiments/phase_diagram.py --flagfile=experiments/flags/doshi2024_fig5.flags --workdir=runs/fig5_bn
    python experiments/phase_diagram.py --flagfile=experiments/flags/doshi2024_fig5.flags --norm=none \
        --workdir=runs/fig5_nonorm
    python experiments/doshi2024_batchnorm.py --bn_workdir=runs/fig5_bn --plain_workdir=runs/fig5_nonorm

Writes fig5_batchnorm.png and fig5_numbers.json (accuracies, Pearson and Spearman
correlations of gamma_k and |gamma_k| with IPR_k) to --out.
"""
from __future__ import annotations

import json
import os

import numpy as np
from absl import app, flags
from scipy import stats

from grokjax import cli
from grokjax.analysis.ipr import neuron_ipr
from grokjax.analysis.run_dir import load_run_dir, write_numbers
from grokjax.config import ConfigError
from grokjax.plotting import doshi as plots

FLAGS = flags.FLAGS
# Each flag only if missing: the scripts are importable together (tests).
for _define, _name, _default, _help in (
        (flags.DEFINE_string, "bn_workdir", "", "finished run directory of the BatchNorm network (with snapshots)"),
        (flags.DEFINE_string, "plain_workdir", "", "finished run directory of the same network without BatchNorm"),
        (flags.DEFINE_string, "out", "docs/figures/doshi2024", "directory for the PNG and the numbers JSON"),
):
    if _name not in FLAGS:
        _define(_name, _default, _help)


def batchnorm_experiment(bn_workdir: str, plain_workdir: str, out: str) -> dict:
    _, _, _, bn_summary, bn_steps, bn_params_at = load_run_dir(bn_workdir)
    _, _, _, plain_summary, plain_steps, plain_params_at = load_run_dir(plain_workdir)
    bn_params = bn_params_at(bn_steps[-1])
    if "batchnorm_0" not in bn_params:
        raise ConfigError(f"{bn_workdir} was not trained with --norm=batchnorm")
    ipr_bn = neuron_ipr(bn_params)["neuron"][0]
    ipr_plain = neuron_ipr(plain_params_at(plain_steps[-1]))["neuron"][0]
    gamma = np.asarray(bn_params["batchnorm_0"]["scale"][0])
    numbers = {"bn_final_train_acc": float(bn_summary["final_train_acc"][0]),
               "bn_final_val_acc": float(bn_summary["final_val_acc"][0]),
               "bn_phase": str(bn_summary["phase"][0]),
               "plain_final_train_acc": float(plain_summary["final_train_acc"][0]),
               "plain_final_val_acc": float(plain_summary["final_val_acc"][0]),
               "plain_phase": str(plain_summary["phase"][0]),
               "mean_ipr_bn": float(np.nanmean(ipr_bn)), "mean_ipr_plain": float(np.nanmean(ipr_plain))}
    for name, g in (("gamma", gamma), ("abs_gamma", np.abs(gamma))):
        numbers[f"pearson_ipr_{name}"] = float(stats.pearsonr(ipr_bn, g)[0])
        numbers[f"spearman_ipr_{name}"] = float(stats.spearmanr(ipr_bn, g)[0])
    os.makedirs(out, exist_ok=True)
    plots.plot_ipr_histograms(os.path.join(out, "fig5_ipr_hist.png"), [ipr_plain, ipr_bn],
                              [f"no norm: {numbers['plain_phase']}", f"BatchNorm: {numbers['bn_phase']}"])
    plots.plot_scatter(os.path.join(out, "fig5_batchnorm.png"), ipr_bn, gamma, "neuron IPR",
                       "BatchNorm weight gamma_k",
                       f"Pearson r = {numbers['pearson_ipr_gamma']:.2f}, "
                       f"Spearman = {numbers['spearman_ipr_gamma']:.2f}")
    return write_numbers(out, "fig5_numbers.json", numbers)


def main(argv):
    del argv  # cli.parse_flags_or_exit already refused positional arguments
    try:
        if not FLAGS.bn_workdir or not FLAGS.plain_workdir:
            raise ConfigError("--bn_workdir and --plain_workdir are both required")
        print(json.dumps(batchnorm_experiment(FLAGS.bn_workdir, FLAGS.plain_workdir, FLAGS.out)))
    except (ConfigError, FileNotFoundError) as err:
        cli.exit_on_config_error(ConfigError(str(err).splitlines()[0]))


if __name__ == "__main__":
    app.run(main, flags_parser=cli.parse_flags_or_exit)
