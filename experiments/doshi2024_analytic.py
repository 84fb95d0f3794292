"""Doshi et al. (2024) Appendix D: the periodic solution (eq. 2) built directly.

    python experiments/doshi2024_analytic.py --out=docs/figures/doshi2024

Accuracy on all p^2 pairs against width N (mean over --solutions random permutations and
phases), and the per-neuron IPR of the solution (exactly 1: every row is one cosine).
Numpy only; a few seconds.
"""
from __future__ import annotations

import json
import os

import numpy as np
from absl import flags

from grokjax import cli
from grokjax.analysis.analytic import amplitude, analytic_accuracy, analytic_params
from grokjax.analysis.ipr import neuron_ipr
from grokjax.config import ConfigError
from grokjax.errors import check_value
from grokjax.plotting.doshi import plot_analytic
from grokjax.train.memory import check_table_fits
from grokjax.train.run_dir import write_numbers

FLAGS = flags.FLAGS
# Each flag only if missing: the scripts are importable together (tests).
for _define, _name, _default, _help in (
        (flags.DEFINE_string, "out", "docs/figures/doshi2024", "directory for the PNG and the numbers JSON"),
        (flags.DEFINE_string, "primes", "31,97", "moduli p"),
        (flags.DEFINE_string, "widths", "10,25,50,100,200,500,1000,2000,5000", "widths N"),
        (flags.DEFINE_integer, "solutions", 5, "random solutions (permutations and phases) per (p, N)"),
):
    if _name not in FLAGS:
        _define(_name, _default, _help)


def main(argv):
    del argv  # cli.parse_flags_or_exit already refused positional arguments
    try:
        primes = [int(v) for v in cli.parse_values("primes", FLAGS.primes)]
        widths = [int(v) for v in cli.parse_values("widths", FLAGS.widths)]
        check_value("primes", FLAGS.primes, min(primes) >= 2, "integers >= 2")
        check_value("widths", FLAGS.widths, min(widths) >= 1, "positive integers")
        check_value("solutions", FLAGS.solutions, FLAGS.solutions >= 1, "a positive integer")
        # every pair's hidden units, in float64: p^2 x N numbers for the largest p and N
        check_table_fits(max(primes) ** 2, 2 * max(widths), f"--primes={FLAGS.primes} with --widths={FLAGS.widths}")
    except ConfigError as err:
        cli.exit_on_config_error(err)
    print(json.dumps(analytic_experiment(primes, widths, FLAGS.solutions, FLAGS.out)))


def analytic_experiment(primes: list[int], widths: list[int], seeds: int, out: str) -> dict:
    """Accuracy against width per prime, IPR of one N=500 solution; writes the PNG and JSON."""
    acc = {p: [float(np.mean([analytic_accuracy(p, n, s) for s in range(seeds)])) for n in widths] for p in primes}
    p_last, n_ipr = primes[-1], 500
    values = neuron_ipr(analytic_params(p_last, n_ipr, 0))["neuron"]
    os.makedirs(out, exist_ok=True)
    plot_analytic(os.path.join(out, "analytic_accuracy_ipr.png"), widths, acc, values,
                  f"eq. 2 solution, amplitude (2/N)^(1/3); IPR panel: p={p_last}, N={n_ipr}")
    numbers = {"widths": widths, "accuracy": {str(p): a for p, a in acc.items()},
               "ipr_min": float(values.min()), "ipr_mean": float(values.mean()),
               "amplitude_cubed_times_N_over_2": amplitude(n_ipr) ** 3 * n_ipr / 2}
    return write_numbers(out, "analytic_numbers.json", numbers)

if __name__ == "__main__":
    cli.run_script(main)
