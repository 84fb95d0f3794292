#!/usr/bin/env bash
# Power et al. (2022) Figure 2 right: one phase_diagram.py sweep (fractions x 3 seeds, one
# compiled call per batch) per operation. Usage: launch/power2022_fig2_right.sh RUNS_DIR [extra flags]
set -euo pipefail
out=${1:?usage: $0 RUNS_DIR [extra flags]}
shift
here=$(cd "$(dirname "$0")/.." && pwd)
for op in add sub div div_or_sub x2_plus_y2 x2_xy_y2 x2_xy_y2_x x3_xy x3_xy2_y s5_mul s5_conj s5_xyx; do
  python "$here/experiments/phase_diagram.py" --flagfile="$here/experiments/flags/power2022_fig2_right.flags" \
    --op="$op" --workdir="$out/$op" "$@"
done
