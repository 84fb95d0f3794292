#!/usr/bin/env bash
# One command that measures, on one GPU, what only a GPU can show for the Power et al. (2022)
# paper model (2 layers, width 128, 4 heads, batch 512, p = 97), in under 10 minutes:
#   1. the training step at R = 1 / 16 / 64 vmapped runs, steps only (no evaluation), with the
#      measured matmul peak (benchmarks/vmap_cost.py) -> OUT_DIR/step.md, step.csv
#   2. as much of Figure 2 right at the paper's 1e5-step budget as fits in FIGURE_S seconds: one
#      vmapped sweep of 18 fractions x 3 seeds per operation, easy to hard; each sweep checkpoints,
#      so rerunning with the same RUNS_DIR continues it -> OUT_DIR/fig2_right.csv (best validation
#      accuracy per operation and fraction, mean over seeds, and how far each sweep got)
#   3. OUT_DIR/device.txt: the device, jax version and wall times of each part.
#
# Usage:   launch/gpu_check.sh [OUT_DIR] [RUNS_DIR]      (OUT_DIR default: $OUT, else runs/gpu_check)
# CPU smoke test with a tiny budget (what tests/test_launch.py runs):
#          GPU_CHECK_TINY=1 launch/gpu_check.sh /tmp/gpu_check /tmp/gpu_check_runs
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-${OUT:-runs/gpu_check}}
runs_dir=${2:-/tmp/gpu_check_runs}
mkdir -p "$out" "$runs_dir"
out=$(cd "$out" && pwd)
export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}"

if [[ -n "${GPU_CHECK_TINY:-}" ]]; then  # a CPU smoke test: the smallest models, a few steps
  step_args=(--configs=small_mlp --runs=2 --min_seconds=0)
  figure_args=(--p=11 --width=16 --heads=2 --depth=1 --batch_size=32 --steps=40 --eval_every=10
               --x_values=0.5 --seeds=1 --ops=add)
  figure_s=${FIGURE_S:-300}
else
  step_args=(--configs=power_transformer --runs=16,64 --min_seconds=2)
  figure_args=(--ops=add,sub,div,x2_plus_y2,x3_xy2_y)
  figure_s=${FIGURE_S:-360}
fi

{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  (nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no nvidia-smi")
  python -c "import jax; print('jax', jax.__version__, jax.devices())"
} > "$out/device.txt"

start=$SECONDS
python "$here/benchmarks/vmap_cost.py" "${step_args[@]}" --out="$out/step"
echo "step benchmark: $((SECONDS - start)) s" >> "$out/device.txt"

start=$SECONDS
# SIGTERM at the budget: the sweep in flight checkpoints its chunk and stops (exit 130).
status=0
timeout --signal=TERM --kill-after=60 "$figure_s" python "$here/experiments/power2022_figures.py" --figure=operations \
  --flagfile="$here/experiments/flags/power2022_fig2_right.flags" "${figure_args[@]}" \
  --workdir="$runs_dir/fig2_right" --noprogress > "$out/fig2_right.log" 2>&1 || status=$?
echo "figure 2 right: $((SECONDS - start)) s, exit $status (124/130: stopped at the budget, checkpointed)" >> "$out/device.txt"
if [[ $status -ne 0 && $status -ne 124 && $status -ne 130 ]]; then
  tail -20 "$out/fig2_right.log" >&2
  exit "$status"
fi
python "$here/launch/sweeps_table.py" "$runs_dir/fig2_right" --out="$out/fig2_right.csv"
cat "$out/device.txt"
