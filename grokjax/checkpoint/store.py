"""Resumable sweeps: one Orbax CheckpointManager per batch of runs.

    workdir/checkpoints/layout.json         the runs of each batch and a fingerprint of the sweep
    workdir/checkpoints/batch_000/<step>/   Orbax: {"state", "curves", "t", "done"}

A checkpoint is taken at an evaluation point (the host loop only stops there):
the batch's state (any pytree; typed PRNG keys are stored as key data), its
metric curves so far, the index `t` of that evaluation point and whether the
batch is finished. Per-step randomness is fold_in(step_key, step), so training
on from a restored state reproduces the uninterrupted run bit for bit.
Orbax writes each step to a temporary directory and renames it when complete,
so a process killed at any moment leaves only whole checkpoints behind.

Multi-host (several processes joined by jax.distributed): every process makes the
same save and restore calls (Orbax's are collective); each writes and reads only its
own devices' shards of the state, process 0 writes the host-side values (curves, t,
done), layout.json and the snapshots.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from typing import Any, NamedTuple

import jax
import numpy as np
import orbax.checkpoint as ocp

from grokjax.checkpoint import snapshots
from grokjax.config import ConfigError
from grokjax.train import devices, run_dir
from grokjax.train.run_dir import escape

CHECKPOINT_DIR = run_dir.CHECKPOINTS
LAYOUT_FILE = run_dir.LAYOUT


@dataclasses.dataclass(frozen=True)
class CheckpointOptions:
    """When to checkpoint a batch and which parameter snapshots to keep."""

    every: int = 10  # evaluation chunks between checkpoints; 0 = only when a batch ends
    keep: int = 2  # newest checkpoints kept per batch
    snapshot_steps: tuple[int, ...] = ()  # evaluation steps whose parameters are kept
    snapshot_dtype: str = "float32"  # float32 | float16


def quiet_closed_event_loop() -> None:
    """A restore that fails (a damaged checkpoint) leaves Orbax's other reads in flight; when they end,
    their callbacks reach Orbax's already closed asyncio loop and each prints a 'RuntimeError: Event
    loop is closed' traceback through sys.unraisablehook, at random moments up to interpreter exit,
    around the one-line error. Those are dropped; anything else still reaches the previous hook."""
    import sys

    previous = sys.unraisablehook
    if getattr(previous, "_grokjax_quiet", False):
        return

    def hook(unraisable):
        err = unraisable.exc_value
        if isinstance(err, RuntimeError) and str(err) == "Event loop is closed":
            return
        previous(unraisable)

    hook._grokjax_quiet = True
    sys.unraisablehook = hook


class Resumed(NamedTuple):
    state: Any  # the batch state, on the devices
    curves: dict[str, np.ndarray]  # name -> (R, T)
    t: int  # index of the evaluation point the state is at
    done: bool  # the batch finished (last point or early stop)


def batch_dir(workdir: str, batch: int) -> str:
    return os.path.join(workdir, CHECKPOINT_DIR, f"batch_{batch:03d}")


def _is_key(x) -> bool:
    return jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def saveable(tree):
    """The state as Orbax saves it: typed keys as their key data, arrays left on the devices.
    save() copies each process's shards to the host before it returns (Orbax transfers every
    array synchronously unless a transfer budget is set), so the next chunk may donate the buffers."""
    return jax.tree.map(lambda x: jax.random.key_data(x) if _is_key(x) else x, tree)


def restore_target(abstract):
    """The Orbax restore target of an abstract (jax.eval_shape) state: the on-disk shapes with the
    shardings the training step's outputs have (so its input buffers can still be donated, and each
    process reads only its own shards)."""
    def leaf(a):
        shape = jax.eval_shape(jax.random.key_data, a) if _is_key(a) else a
        sharding = getattr(a, "sharding", None) or jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
        return jax.ShapeDtypeStruct(shape.shape, shape.dtype, sharding=sharding)
    return jax.tree.map(leaf, abstract)


def from_saved(tree, abstract):
    """Inverse of saveable: key data wrapped back into typed keys."""
    return jax.tree.map(lambda x, a: jax.random.wrap_key_data(x, dtype=a.dtype) if _is_key(a) else x,
                        tree, abstract)


def fingerprint(cfg, grid: dict) -> str:
    """A hash of what the saved states depend on: a guard for library users who skip prepare_workdir.

    Settings at their default are left out, so a setting added to StaticConfig later keeps old sweeps resumable;
    so are grid columns of hyperparameters added later (HParamSpec.added_later) while every run has the default.
    """
    from grokjax.config import HPARAMS

    static = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg) if getattr(cfg, f.name) != f.default}
    grid = {k: np.asarray(v).tolist() for k, v in grid.items()
            if not (k in HPARAMS and HPARAMS[k].added_later and np.all(np.asarray(v) == HPARAMS[k].default))}
    text = json.dumps({"static": static, "grid": grid},
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def read_layout(workdir: str) -> dict | None:
    return run_dir.read_json(os.path.join(workdir, CHECKPOINT_DIR), LAYOUT_FILE)


class SweepCheckpoints:
    """The checkpoints and snapshots of one sweep in `workdir`."""

    def __init__(self, workdir: str, options: CheckpointOptions = CheckpointOptions()):
        if options.every < 0 or options.keep < 1:
            raise ConfigError(f"checkpoint every={options.every} must be >= 0 and keep={options.keep} >= 1")
        self.workdir = os.path.abspath(workdir)
        self.options = options

    def start(self, cfg, grid: dict, batches: list[np.ndarray], batch_size: int) -> None:
        """Records the batch layout, or refuses one that differs from the layout already saved."""
        layout = {"fingerprint": fingerprint(cfg, grid), "batch_size": int(batch_size),
                  "batches": [np.asarray(b).tolist() for b in batches]}
        saved = read_layout(self.workdir)
        if saved is not None and saved != layout:
            what = "configuration" if saved.get("fingerprint") != layout["fingerprint"] else \
                f"batch layout (batch size {saved.get('batch_size')} -> {batch_size}; device count changed?)"
            raise ConfigError(f"{self.workdir} holds checkpoints of a sweep with a different {what}; "
                              "pass --overwrite to start over")
        # Every process checks the layout (each raises the same error); process 0 writes it.
        if saved is None and devices.is_main_process():
            os.makedirs(os.path.join(self.workdir, CHECKPOINT_DIR), exist_ok=True)
            run_dir.write_json(os.path.join(self.workdir, CHECKPOINT_DIR, LAYOUT_FILE), layout)

    def batch(self, index: int, runs: np.ndarray) -> "BatchCheckpoints":
        return BatchCheckpoints(self.workdir, index, len(runs), self.options)


class BatchCheckpoints:
    """One batch's Orbax checkpoint stream and parameter snapshots."""

    def __init__(self, workdir: str, index: int, n_real: int, options: CheckpointOptions):
        self.workdir, self.index, self.n_real, self.options = workdir, index, n_real, options
        self.snapshot_steps = frozenset(options.snapshot_steps)
        self.manager = ocp.CheckpointManager(
            batch_dir(workdir, index),
            options=ocp.CheckpointManagerOptions(max_to_keep=options.keep, cleanup_tmp_directories=True,
                                                 create=True))

    def restore(self, abstract_state, metric_names, n_points: int) -> Resumed | None:
        """The latest checkpoint of this batch, or None when there is none."""
        step = self.manager.latest_step()
        if step is None:
            return None
        target = {"state": restore_target(abstract_state),
                  "curves": {escape(k): jax.ShapeDtypeStruct((self.n_padded(abstract_state), n_points), np.float32)
                             for k in metric_names},
                  "t": jax.ShapeDtypeStruct((), np.int64), "done": jax.ShapeDtypeStruct((), np.bool_)}
        quiet_closed_event_loop()
        try:
            item = self.manager.restore(step, args=ocp.args.StandardRestore(target))
        except Exception as err:  # noqa: BLE001 - any failure becomes one line naming the checkpoint
            raise ConfigError(f"cannot restore {batch_dir(self.workdir, self.index)}/{step}, it is damaged "
                              f"({run_dir.first_line(err)}); pass --overwrite to start over") from None
        curves = {k: np.array(item["curves"][escape(k)]) for k in metric_names}
        return Resumed(from_saved(item["state"], abstract_state), curves, int(item["t"]),
                       bool(item["done"]))

    @staticmethod
    def n_padded(abstract_state) -> int:
        return jax.tree.leaves(abstract_state)[0].shape[0]

    def after_eval(self, t: int, step: int, state, curves: dict[str, np.ndarray], done: bool,
                   force: bool = False) -> None:
        """Called at every evaluation point: keeps the snapshot and checkpoint that are due
        (`force`: a checkpoint now, e.g. before stopping on a signal)."""
        if step in self.snapshot_steps:
            params = devices.to_host(state.params)  # from every process: a collective call
            if devices.is_main_process():
                params = jax.tree.map(lambda a: a[:self.n_real], params)  # drop padding
                snapshots.write(self.workdir, self.index, step, params, self.options.snapshot_dtype)
        every = self.options.every
        if done or force or (every > 0 and t % every == 0 and t > 0):
            item = {"state": saveable(state), "curves": {escape(k): v.copy() for k, v in curves.items()},
                    "t": np.asarray(t, np.int64), "done": np.asarray(done)}
            self.manager.save(step, args=ocp.args.StandardSave(item), force=True)

    def close(self) -> None:
        """Waits for the background write: a finished batch is on disk before the next starts."""
        self.manager.wait_until_finished()
        self.manager.close()
