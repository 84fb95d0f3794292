"""Read a sweep's workdir: one run's (config, params, metrics) at a step, or the whole sweep as arrays.

    cfg, params, metrics = load_run("runs/x", run=3, step=1000)
    sweep = load_sweep("runs/x")                      # curves (G, T), final params (G, ...)

Parameters come from the snapshots (any snapshot step) or from the Orbax
checkpoints (the steps each batch still keeps; the last one is its final
state). Every failure is a ConfigError with a one-line message.
"""
from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

import jax
import numpy as np

from grokjax.checkpoint import snapshots
from grokjax.checkpoint.store import batch_dir, read_layout
from grokjax.config import ConfigError, StaticConfig
from grokjax.train.schedule import eval_steps
from grokjax.workdir import PROGRESS_FILE


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


def _static(fields: dict) -> StaticConfig:
    """Tolerates settings added or removed since the sweep was run."""
    known = {f.name for f in dataclasses.fields(StaticConfig)}
    return StaticConfig(**{k: v for k, v in fields.items() if k in known})


class SweepDir:
    """A workdir opened for reading."""

    def __init__(self, workdir: str):
        if not os.path.exists(workdir):
            _fail(f"{workdir} does not exist")
        if not os.path.isdir(workdir):
            _fail(f"{workdir} is not a directory")
        path = os.path.join(workdir, "config.json")
        if not os.path.exists(path):
            _fail(f"{workdir} is not a grokjax workdir (no config.json)")
        try:
            with open(path) as f:
                self.config = json.load(f)
            self.grid = {k: np.asarray(v) for k, v in self.config["grid"].items()}
            self.static = _static(self.config["static"])
        except KeyError as err:
            _fail(f"{path} is not a grokjax sweep configuration (it has no {err} entry)")
        except (OSError, ValueError, TypeError, AttributeError) as err:
            _fail(f"{path} is not a grokjax sweep configuration ({type(err).__name__}: {err})")
        self.workdir = os.path.abspath(workdir)  # Orbax refuses relative checkpoint paths
        self.n_runs = len(self.grid["model_seed"])
        self.axes = list(self.config.get("axes", []))
        self.steps = eval_steps(self.static.steps, self.static.eval_every, self.static.eval_schedule)
        self.layout = read_layout(workdir)
        self.progress = None
        if os.path.exists(os.path.join(workdir, PROGRESS_FILE)):
            with open(os.path.join(workdir, PROGRESS_FILE)) as f:
                self.progress = json.load(f)
        self._metrics = None

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
        try:
            manager = ocp.CheckpointManager(batch_dir(self.workdir, batch),
                                            options=ocp.CheckpointManagerOptions(
                                                read_only=True, save_interval_steps=0, create=False),
                                            item_handlers=ocp.StandardCheckpointHandler())
            saved = manager.item_metadata(step).tree
            return manager.restore(step, args=ocp.args.StandardRestore(
                jax.tree.map(lambda a: np.zeros(a.shape, a.dtype), saved)))  # numpy leaves: read as numpy
        except Exception as err:  # noqa: BLE001 - a damaged or foreign checkpoint: one line
            first = str(err).strip().splitlines()[0][:200] if str(err).strip() else ""
            _fail(f"cannot read {os.path.join(batch_dir(self.workdir, batch), str(step))} "
                  f"({type(err).__name__}: {first})")
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

    def metrics_file(self) -> dict[str, np.ndarray] | None:
        path = os.path.join(self.workdir, "metrics.npz")
        if self._metrics is None and os.path.exists(path):
            with np.load(path) as data:
                self._metrics = {k: data[k] for k in data.files}
        return self._metrics

    def curves(self) -> dict[str, np.ndarray]:
        """(G, T) curves of every run: metrics.npz for finished runs, checkpoints for running batches.

        Also sets `self.finished` (runs in metrics.npz) and `self.at_point` ((G,) index of the last
        evaluation point in a checkpoint of an unfinished run, -1 for other runs).
        """
        out: dict[str, np.ndarray] = {}
        done = 0
        self.at_point = np.full(self.n_runs, -1)
        saved = self.metrics_file()
        if saved is not None:
            names = [k for k in saved if k != "steps" and not k.startswith("hp__")]
            done = len(saved[names[0]]) if names else 0
            for k in names:
                out[k.replace("__", "/")] = np.full((self.n_runs, len(self.steps)), np.nan, np.float32)
                out[k.replace("__", "/")][:done] = saved[k]
        for b, runs in enumerate(self.batches()):
            todo = [r for r in runs if r >= done]
            steps = self.checkpoint_steps(b)
            if not todo or not steps:
                continue
            item = self.restore(b, max(steps))
            self.at_point[todo] = int(item["t"])
            for k, v in item["curves"].items():
                name = k.replace("__", "/")
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


def _put(whole: np.ndarray, runs: list[int], part: np.ndarray) -> np.ndarray:
    whole[runs] = part
    return whole


__all__ = ["RunConfig", "SweepData", "SweepDir", "load_run", "load_sweep"]
