"""Read a sweep's workdir: one run's (config, params, metrics) at a step, or the whole sweep as arrays.

    cfg, params, metrics = load_run("runs/x", run=3, step=1000)
    sweep = load_sweep("runs/x")                      # curves (G, T), final params (G, ...)

Parameters come from the snapshots (any snapshot step) or from the Orbax
checkpoints (the steps each batch still keeps; the last one is its final
state). Every failure is a ConfigError with a one-line message.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any

import jax
import numpy as np

from grokjax.checkpoint import snapshots
from grokjax.checkpoint.store import batch_dir, quiet_closed_event_loop, read_layout
from grokjax.config import ConfigError, StaticConfig
from grokjax.train.run_dir import RunDir, first_line, unescape


@dataclasses.dataclass
class RunConfig:
    static: StaticConfig
    hparams: dict[str, float]  # this run's traced hyperparameters and seeds
    run: int
    step: int  # the step of the parameters returned with it


@dataclasses.dataclass
class SweepData:
    config: dict  # config.json
    static: StaticConfig
    grid: dict[str, np.ndarray]  # (G,) per hyperparameter
    steps: np.ndarray  # (T,) evaluation steps
    curves: dict[str, np.ndarray]  # (G, T); NaN where not (yet) evaluated
    params: Any  # nested dict of (G, ...) arrays (NaN for runs without saved parameters), or None
    params_step: np.ndarray  # (G,) step of each run's parameters, -1 if none


def _fail(message: str):
    raise ConfigError(message)


class SweepDir(RunDir):
    """A workdir opened for reading: RunDir (configuration, result files) plus checkpoints and parameters."""

    def __init__(self, workdir: str):
        super().__init__(workdir)
        self.layout = read_layout(workdir)

    # Where things are.
    def batches(self) -> list[list[int]]:
        return self.layout["batches"] if self.layout else []

    def batch_of(self, run: int) -> tuple[int, int]:
        """(batch, position in the batch) of a run."""
        self.check_run(run)
        for b, runs in enumerate(self.batches()):
            if run in runs:
                return b, runs.index(run)
        _fail(f"run {run} has no checkpoints yet (its batch has not started)")

    def check_run(self, run: int) -> None:
        if not 0 <= run < self.n_runs:
            _fail(f"run {run} does not exist; this sweep has runs 0..{self.n_runs - 1}")

    def checkpoint_steps(self, batch: int) -> list[int]:
        """Finished checkpoints only: Orbax gives unfinished ones a temporary name."""
        folder = batch_dir(self.workdir, batch)
        if not os.path.isdir(folder):
            return []
        return sorted(int(n) for n in os.listdir(folder) if n.isdigit())

    def snapshot_steps(self, batch: int) -> list[int]:
        return snapshots.saved_steps(self.workdir, batch)

    # What is there.
    def restore(self, batch: int, step: int) -> dict:
        """A checkpoint as nested dicts of numpy arrays, read whole in this process: the target is built
        from the checkpoint's own metadata, so one sharded over the devices of other hosts reads too."""
        import orbax.checkpoint as ocp  # local: the table and snapshots need no Orbax

        from absl import logging

        verbosity = logging.get_verbosity()
        logging.set_verbosity(logging.ERROR)  # Orbax warns that a read-only manager is read-only
        manager = None
        quiet_closed_event_loop()
        try:
            manager = ocp.CheckpointManager(batch_dir(self.workdir, batch),
                                            options=ocp.CheckpointManagerOptions(
                                                read_only=True, save_interval_steps=0, create=False),
                                            item_handlers=ocp.StandardCheckpointHandler())
            saved = manager.item_metadata(step).tree
            return manager.restore(step, args=ocp.args.StandardRestore(
                jax.tree.map(lambda a: np.zeros(a.shape, a.dtype), saved)))  # numpy leaves: read as numpy
        except Exception as err:  # noqa: BLE001 - a damaged or foreign checkpoint: one line
            _fail(f"cannot read {os.path.join(batch_dir(self.workdir, batch), str(step))}, it is damaged "
                  f"({first_line(err)})")
        finally:
            if manager is not None:
                manager.close()
            logging.set_verbosity(verbosity)

    def batch_params(self, batch: int, step: int | None = None) -> tuple[int, Any]:
        """(step, params of every run of the batch); step None = the latest saved."""
        ckpt, snap = self.checkpoint_steps(batch), self.snapshot_steps(batch)
        if step is None:
            if not ckpt and not snap:
                _fail(f"batch {batch} has no saved parameters yet")
            step = max(ckpt or snap)
        n_real = len(self.batches()[batch])
        if step in snap:
            return step, snapshots.read(self.workdir, batch, step)
        if step in ckpt:
            params = self.restore(batch, step)["state"]["params"]
            return step, jax.tree.map(lambda a: np.asarray(a)[:n_real], params)
        _fail(f"step {step} is not saved for batch {batch}; saved steps: "
              f"{', '.join(map(str, sorted(set(ckpt) | set(snap)))) or 'none'}")

    def curves(self) -> dict[str, np.ndarray]:
        """(G, T) curves of every run: metrics.npz for finished runs, checkpoints for running batches.

        Also sets `self.finished` (runs in metrics.npz) and `self.at_point` ((G,) index of the last
        evaluation point in a checkpoint of an unfinished run, -1 for other runs).
        """
        out: dict[str, np.ndarray] = {}
        done = 0
        self.at_point = np.full(self.n_runs, -1)
        saved = self.metrics()
        if saved is not None:
            saved_curves = saved[1]
            done = len(next(iter(saved_curves.values()))) if saved_curves else 0
            for name, values in saved_curves.items():
                out[name] = np.full((self.n_runs, len(self.steps)), np.nan, np.float32)
                out[name][:done] = values
        for b, runs in enumerate(self.batches()):
            todo = [r for r in runs if r >= done]
            steps = self.checkpoint_steps(b)
            if not todo or not steps:
                continue
            item = self.restore(b, max(steps))
            self.at_point[todo] = int(item["t"])
            for k, v in item["curves"].items():
                name = unescape(k)
                out.setdefault(name, np.full((self.n_runs, len(self.steps)), np.nan, np.float32))
                out[name][todo] = np.asarray(v)[[runs.index(r) for r in todo]]
        self.finished = done
        return out


def load_run(workdir: str, run: int, step: int | None = None) -> tuple[RunConfig, dict, dict[str, np.ndarray]]:
    """One run's configuration, parameters at `step` (None = latest saved) and metric curves.

    metrics: name -> (T,) curve, plus "steps" (T,).
    """
    sweep = SweepDir(workdir)
    batch, pos = sweep.batch_of(run)
    try:
        step, params = sweep.batch_params(batch, step)
    except ConfigError as err:
        raise ConfigError(f"run {run}: {err}") from None
    params = jax.tree.map(lambda a: a[pos], params)
    hparams = {k: v[run].item() for k, v in sweep.grid.items()}
    curves = sweep.curves()
    metrics = {"steps": sweep.steps, **{k: v[run] for k, v in curves.items()}}
    return RunConfig(sweep.static, hparams, run, step), params, metrics


def load_sweep(workdir: str, step: int | None = None, params: bool = True) -> SweepData:
    """Every run's curves and (if `params`) parameters at `step` (None = each batch's latest) as arrays."""
    sweep = SweepDir(workdir)
    params_step = np.full(sweep.n_runs, -1, np.int64)
    per_batch = []
    if params:
        for b, runs in enumerate(sweep.batches()):
            if step is None and not (sweep.checkpoint_steps(b) or sweep.snapshot_steps(b)):
                continue  # not started: its runs keep NaN parameters
            s, p = sweep.batch_params(b, step)
            params_step[runs] = s
            per_batch.append((runs, p))
    stacked = None
    if per_batch:
        template = per_batch[0][1]
        stacked = jax.tree.map(lambda a: np.full((sweep.n_runs, *a.shape[1:]), np.nan, np.float32), template)
        for runs, p in per_batch:
            stacked = jax.tree.map(lambda whole, part: _put(whole, runs, part), stacked, p)
    return SweepData(sweep.config, sweep.static, sweep.grid, sweep.steps, sweep.curves(), stacked, params_step)


def load_run_dir(workdir: str):
    """(cfg, grid, metrics, summary rows, saved steps, params_at(step) -> (G, ...) params) of the runs
    finished so far: the analysis scripts' view of a sweep.

    The saved steps are the parameter snapshots (--snapshot_steps); a sweep trained without them
    still has its final checkpoint, so the final parameters alone are read from there.
    """
    sweep = SweepDir(workdir)
    saved, summary = sweep.metrics(), sweep.summary()
    if saved is None or summary is None:
        _fail(f"{workdir} has no finished batch yet (no metrics.npz and summary.csv)")
    steps_T, curves, _, _ = saved
    steps = sweep.snapshot_steps(0)
    if not steps:
        final = int(sweep.steps[-1])
        if final not in sweep.checkpoint_steps(0):
            _fail(f"{workdir} has no parameter snapshots and no final checkpoint; train with --snapshot_steps=...")
        steps = [final]
    n_done = len(summary)  # an unfinished sweep: the runs of the batches finished so far
    grid = {k: np.asarray(v[:n_done], np.int32 if k in ("model_seed", "data_seed") else np.float32)
            for k, v in sweep.grid.items()}
    metrics = {"steps": steps_T, **{k: v[:n_done] for k, v in curves.items()}}
    done_batches = [b for b, runs in enumerate(sweep.batches()) if max(runs) < n_done]

    def params_at(step: int) -> dict:
        parts = [sweep.batch_params(b, step)[1] for b in done_batches]
        return jax.tree.map(lambda *a: np.concatenate(a), *parts)

    return sweep.static, grid, metrics, summary, steps, params_at


def _put(whole: np.ndarray, runs: list[int], part: np.ndarray) -> np.ndarray:
    whole[runs] = part
    return whole


__all__ = ["RunConfig", "SweepData", "SweepDir", "load_run", "load_run_dir", "load_sweep"]
