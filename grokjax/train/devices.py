"""Runs across devices and hosts, and batches sized from a memory budget.

The run axis R is the only axis that is split: every device trains R / n_devices
whole runs, so no run ever communicates with another and the result of a run does
not depend on where it ran (tests/test_devices.py checks 4 CPU devices against 1).

    mesh = run_mesh()                          # all devices of all hosts, axis "runs"
    hp = place(hp_numpy, mesh)                 # (R,) arrays split over the mesh
    jax.jit(vmap(f), out_shardings=...)        # see BatchTrainer in grokjax.train.sweep

Multi-host: call `initialize_distributed()` first (SLURM and other launchers are
auto-detected by `jax.distributed.initialize`); every process builds the same grid,
the mesh spans every host's devices, and the small per-run outputs (metrics,
divergence flags) are replicated so each process can read them; process 0 writes
files (`on_main_process`), while checkpoints are saved by every process's shards
(grokjax.checkpoint.store).
"""
from __future__ import annotations

import math
import os
from typing import Callable

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

RUN_AXIS = "runs"


def initialize_distributed() -> bool:
    """jax.distributed.initialize() when this process is one of several; True if so.

    Detected from SLURM (SLURM_NTASKS > 1) or the JAX_COORDINATOR_ADDRESS /
    JAX_NUM_PROCESSES / JAX_PROCESS_ID environment variables (which
    jax.distributed.initialize reads itself). A single process does nothing.
    """
    # Must run before anything touches a JAX backend (even jax.process_count()).
    if getattr(initialize_distributed, "done", False):
        return True
    explicit = "JAX_COORDINATOR_ADDRESS" in os.environ
    slurm = int(os.environ.get("SLURM_NTASKS", "1")) > 1
    if not (explicit or slurm):
        return False
    if explicit:
        jax.distributed.initialize(os.environ["JAX_COORDINATOR_ADDRESS"],
                                   int(os.environ["JAX_NUM_PROCESSES"]), int(os.environ["JAX_PROCESS_ID"]))
    else:
        jax.distributed.initialize()
    initialize_distributed.done = True
    return True


def is_main_process() -> bool:
    """The process that writes files (process 0)."""
    return jax.process_index() == 0


def any_process(flag: bool) -> bool:
    """True on every process if `flag` is True on any (a collective call with several processes):
    e.g. a SIGTERM that reached one process stops all of them after the same chunk."""
    if jax.process_count() == 1:
        return bool(flag)
    from jax.experimental import multihost_utils
    return bool(np.any(multihost_utils.process_allgather(np.asarray(flag))))


_MESSAGE_BYTES = 1024


def on_main_process(fn: Callable[[], bool]) -> bool:
    """fn() on process 0 only (it writes the run directory) and its bool result on every process,
    once process 0 is done (a collective call, so the others wait for it). A ConfigError that
    fn raises is raised on every process with the same message, so none is left waiting."""
    if jax.process_count() == 1:
        return fn()
    from jax.experimental import multihost_utils

    from grokjax.config import ConfigError
    result, message = False, b""
    if is_main_process():
        try:
            result = bool(fn())
        except ConfigError as err:
            message = str(err).encode()[:_MESSAGE_BYTES - 2] or b"?"
    packed = np.zeros(_MESSAGE_BYTES, np.uint8)  # [result, has error, message...]
    packed[:2] = result, bool(message)
    packed[2:2 + len(message)] = np.frombuffer(message, np.uint8)
    packed = np.asarray(multihost_utils.broadcast_one_to_all(packed))
    if packed[1]:
        raise ConfigError(packed[2:].tobytes().rstrip(b"\0").decode(errors="replace"))
    return bool(packed[0])


def run_mesh(devices=None) -> Mesh | None:
    """A 1-D mesh over `devices` (default: every device of every host); None for one device."""
    devices = list(jax.devices() if devices is None else devices)
    return Mesh(np.asarray(devices), (RUN_AXIS,)) if len(devices) > 1 else None


def run_sharding(mesh: Mesh) -> NamedSharding:
    """Leading (run) axis split across the mesh; other axes whole."""
    return NamedSharding(mesh, PartitionSpec(RUN_AXIS))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec())


def place(arrays: dict, mesh: Mesh | None) -> dict:
    """Host (R, ...) arrays onto the devices, run axis split over `mesh`.

    Every process passes the same values (each builds the same grid); each puts
    only its own devices' slices, so this also works across hosts.
    """
    if mesh is None:
        return {k: jax.numpy.asarray(v) for k, v in arrays.items()}
    sharding = run_sharding(mesh)
    out = {}
    for k, v in arrays.items():
        v = np.asarray(v)
        out[k] = jax.make_array_from_callback(v.shape, sharding, lambda idx, v=v: v[idx])
    return out


def padded_runs(n_runs: int, mesh: Mesh | None) -> int:
    """The smallest multiple of the device count that holds n_runs runs."""
    n_dev = 1 if mesh is None else mesh.size
    return -(-n_runs // n_dev) * n_dev


def to_host(tree):
    """numpy copies of device arrays, gathered from every host when sharded across hosts."""
    def get(a):
        if isinstance(a, jax.Array) and not a.is_fully_addressable:
            from jax.experimental import multihost_utils
            return np.asarray(multihost_utils.process_allgather(a, tiled=True))
        return np.asarray(a)
    return jax.tree.map(get, tree)


# --- memory -------------------------------------------------------------------------------------

def compiled_bytes(compiled) -> int:
    """Device memory a compiled call needs: arguments + temporaries + non-aliased outputs."""
    m = compiled.memory_analysis()
    if m is None:
        return 0
    return int(m.argument_size_in_bytes + m.temp_size_in_bytes + m.output_size_in_bytes
               - m.alias_size_in_bytes)


def bytes_per_run(chunk_fn, state, hp) -> int:
    """Memory of one run of a vmapped chunk function, from XLA's memory analysis.

    `chunk_fn` is jit(vmap(train_chunk)) and `state`, `hp` a batch of one run.
    Memory is linear in the number of runs (the table and the program are shared
    and small), so R runs in one vmap need R times this (benchmarks/compile_memory.py
    checks it). A CPU chunk that trains its runs in groups (BatchTrainer) needs less,
    so there R times this is an upper bound.
    """
    return compiled_bytes(chunk_fn.lower(state, hp).compile())


def runs_for_budget(per_run_bytes: int, budget_bytes: float, mesh: Mesh | None = None,
                    safety: float = 0.8) -> int:
    """How many runs fit in `budget_bytes` per device (times the device count), leaving
    1 - safety for XLA's allocator slack; at least one per device."""
    n_dev = 1 if mesh is None else mesh.size
    per_device = max(1, math.floor(safety * budget_bytes / max(per_run_bytes, 1)))
    return per_device * n_dev


def default_budget_bytes() -> float:
    """Per-device memory: the accelerator's bytes_limit, or on CPU the available RAM."""
    stats = jax.local_devices()[0].memory_stats() or {}
    if "bytes_limit" in stats:
        return float(stats["bytes_limit"] - stats.get("bytes_in_use", 0))
    try:
        pages = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        return float(pages) / max(1, jax.local_device_count())
    except (ValueError, OSError, AttributeError):
        return 4e9
