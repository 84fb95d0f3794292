#!/usr/bin/env bash
# Power et al. (2022) Figure 2 right at the paper's settings: one vmapped sweep (18 fractions x 3
# seeds) per operation of A.1.1, run one after another by experiments/power2022_figures.py
# --figure=operations, then one combined figure (operations.png) in RUNS_DIR.
# Each finished operation is kept in RUNS_DIR/sweeps/<op>/: rerunning the same command after an
# interruption resumes with the next operation. To spread operations over machines, give each a
# subset (--ops=add,sub ...) and its own RUNS_DIR.
# Usage: launch/power2022_fig2_right.sh RUNS_DIR [extra flags, e.g. --ops=add,sub]
set -euo pipefail
out=${1:?usage: $0 RUNS_DIR [extra flags]}
shift
here=$(cd "$(dirname "$0")/.." && pwd)
python "$here/experiments/power2022_figures.py" --figure=operations --flagfile="$here/experiments/flags/power2022_fig2_right.flags" \
  --workdir="$out" "$@"
