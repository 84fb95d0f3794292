#!/usr/bin/env bash
# The multi-host path on one machine, without SLURM: NUM_PROCESSES local processes, each with
# DEVICES_PER_PROCESS forced CPU devices, joined by jax.distributed (a dry run of
# launch/multihost.sbatch). Usage: launch/multihost_local.sh NUM_PROCESSES RUNS_DIR FLAGFILE [flags]
set -euo pipefail
n=${1:?usage: $0 NUM_PROCESSES RUNS_DIR FLAGFILE [flags]}
out=${2:?}; flagfile=${3:?}; shift 3
here=$(cd "$(dirname "$0")/.." && pwd)
port=${PORT:-$((20000 + RANDOM % 20000))}
pids=()
for ((i = 0; i < n; i++)); do
  JAX_PLATFORMS=cpu JAX_COORDINATOR_ADDRESS=localhost:$port JAX_NUM_PROCESSES=$n JAX_PROCESS_ID=$i \
  XLA_FLAGS="--xla_force_host_platform_device_count=${DEVICES_PER_PROCESS:-2}" \
    python "$here/launch/sweep.py" --flagfile="$flagfile" --workdir="$out" --progress=false "$@" &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
exit $status
