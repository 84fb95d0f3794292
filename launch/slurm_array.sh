#!/usr/bin/env bash
# Split one grid across a SLURM job array, one shard (a contiguous block of runs) per job,
# then merge the shards' run directories into one. Usage:
#
#   launch/slurm_array.sh NUM_SHARDS RUNS_DIR FLAGFILE [extra flags...]
#   e.g. launch/slurm_array.sh 4 runs/doshi_fig3_wd5 experiments/flags/doshi2024_fig3_wd5.flags
#
# Submits an array of NUM_SHARDS jobs (each: launch/sweep.py --shard_index=$SLURM_ARRAY_TASK_ID
# --workdir=RUNS_DIR/shard_<i>) and a merge job that runs after all of them succeed:
#   python -m grokjax.merge --out=RUNS_DIR RUNS_DIR/shard_*
# Resources: set SBATCH_* variables or edit SBATCH_OPTS below (GRES, partition, time).
# DRY_RUN=1 prints the sbatch commands instead of submitting them.
set -euo pipefail
num_shards=${1:?usage: $0 NUM_SHARDS RUNS_DIR FLAGFILE [extra flags]}
out=${2:?usage: $0 NUM_SHARDS RUNS_DIR FLAGFILE [extra flags]}
flagfile=${3:?usage: $0 NUM_SHARDS RUNS_DIR FLAGFILE [extra flags]}
shift 3
here=$(cd "$(dirname "$0")/.." && pwd)
SBATCH_OPTS=${SBATCH_OPTS:---gres=gpu:1 --cpus-per-task=4 --time=04:00:00}
mkdir -p "$out/logs"
extra=$(printf ' %q' "$@")
train="python $here/launch/sweep.py --flagfile=$flagfile --num_shards=$num_shards \
--shard_index=\$SLURM_ARRAY_TASK_ID --workdir=$out/shard_\$SLURM_ARRAY_TASK_ID --progress=false$extra"
merge="python -m grokjax.merge --out=$out $out/shard_*"
submit() { if [[ "${DRY_RUN:-0}" == 1 ]]; then echo "sbatch $*" >&2; echo 0; else sbatch --parsable "$@"; fi; }
array_id=$(submit $SBATCH_OPTS --job-name=grokjax-shards --array=0-$((num_shards - 1)) \
  --output="$out/logs/shard_%a.out" --wrap="$train" | tail -n 1)
submit --dependency=afterok:"$array_id" --job-name=grokjax-merge --time=00:30:00 \
  --output="$out/logs/merge.out" --wrap="cd $here && $merge" | tail -n 1 >/dev/null
echo "submitted $num_shards shards (job $array_id) and a merge into $out"
