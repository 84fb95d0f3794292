"""Live metrics of a running sweep: after every evaluation chunk, the new points of every run are
appended to the run directory's metrics.jsonl (grokjax.train.run_dir: rows, names, reading) and,
with --tensorboard, to TensorBoard event files (tensorboardX), one directory per run.

A resumed batch restarts from its checkpoint, so the points it evaluated after that checkpoint are
trained again: when a batch begins, its rows in the stream are made exactly the points of its
restored curves (rewritten if they differ), and TensorBoard hides its events after that step
(`purge_step`). A stream read during or after any interruption has each (run, point) once.
"""
from __future__ import annotations

import os
import time

import numpy as np

from grokjax.config import ConfigError
from grokjax.train import run_dir


def require_tensorboard():
    """The tensorboardX module, or ConfigError (one line) naming how to install it."""
    try:
        import tensorboardX
    except ImportError:
        raise ConfigError("--tensorboard needs the tensorboardX package: pip install 'grokjax[tensorboard]' "
                          "(or pip install tensorboardX)") from None
    return tensorboardX


class LiveMetrics:
    """The stream (and TensorBoard logs) of one sweep in `workdir`; written by the main process only."""

    def __init__(self, workdir: str, grid: dict, steps: np.ndarray, tensorboard: bool = False):
        self.workdir, self.grid, self.steps = workdir, grid, np.asarray(steps)
        self.path = os.path.join(workdir, run_dir.STREAM)
        self.summary_writer = require_tensorboard().SummaryWriter if tensorboard else None
        self._drop_torn_tail()
        self.keys: dict[int, set] = {}  # batch -> {(run, t)} of the rows in the file
        for row in run_dir.read_stream_rows(workdir):
            self.keys.setdefault(row.get("batch"), set()).add((row.get("run"), row.get("t")))

    def _drop_torn_tail(self) -> None:
        """A kill during an append leaves a last line without its newline: cut it off."""
        if not os.path.exists(self.path):
            return
        with open(self.path, "rb+") as f:
            data = f.read()
            if data and not data.endswith(b"\n"):
                f.truncate(data.rfind(b"\n") + 1)

    def batch(self, index: int, runs: np.ndarray) -> "BatchStream":
        return BatchStream(self, index, np.asarray(runs))

    def append(self, batch: int, rows: list[dict]) -> None:
        with open(self.path, "ab") as f:  # one write per chunk, flushed: readers see whole chunks
            f.write(run_dir.encode_rows(rows))
        self.keys.setdefault(batch, set()).update((r["run"], r["t"]) for r in rows)

    def replace_batch(self, batch: int, rows: list[dict]) -> None:
        """The stream with this batch's rows replaced by `rows` (keeping their old wall times)."""
        old = run_dir.read_stream_rows(self.workdir)
        times = {(r["run"], r["t"]): r.get("time") for r in old if r.get("batch") == batch}
        for r in rows:
            r["time"] = times.get((r["run"], r["t"]))
        kept = [r for r in old if r.get("batch") != batch]
        run_dir.atomic_write_bytes(self.path, run_dir.encode_rows(kept + rows))
        self.keys[batch] = {(r["run"], r["t"]) for r in rows}


class BatchStream:
    """The live metrics of one batch of runs (its real runs: padding is never written)."""

    def __init__(self, live: LiveMetrics, index: int, runs: np.ndarray):
        self.live, self.index, self.runs = live, index, runs
        self.writers = {}

    def rows(self, t: int, metrics: dict[str, np.ndarray], wall: float | None) -> list[dict]:
        n = len(self.runs)
        return run_dir.stream_rows(self.index, self.runs, self.live.grid, t, int(self.live.steps[t]),
                                   {k: np.asarray(v)[:n] for k, v in metrics.items()}, wall)

    def begin(self, curves: dict[str, np.ndarray], t0: int) -> None:
        """The batch starts (fresh: t0 = 0, its first evaluation) or resumes at evaluation point t0."""
        wanted = {(int(r), t) for r in self.runs for t in range(t0 + 1)}
        if self.live.keys.get(self.index, set()) != wanted:
            fresh = t0 == 0 and not self.live.keys.get(self.index)
            rows = [row for t in range(t0 + 1) for row in self.rows(t, {k: v[:, t] for k, v in curves.items()},
                                                                      time.time() if fresh else None)]
            if fresh:
                self.live.append(self.index, rows)
            else:
                self.live.replace_batch(self.index, rows)
        if self.live.summary_writer is not None:
            self._open_writers(curves, t0)

    def record(self, t: int, metrics: dict[str, np.ndarray]) -> None:
        """Evaluation point t of every run of the batch, after its chunk."""
        self.live.append(self.index, self.rows(t, metrics, time.time()))
        for i, writer in enumerate(self.writers.values()):
            self._scalars(writer, int(self.live.steps[t]), {k: v[i] for k, v in metrics.items()})

    def _open_writers(self, curves: dict[str, np.ndarray], t0: int) -> None:
        for i, run in enumerate(self.runs):
            logdir = os.path.join(self.live.workdir, run_dir.TENSORBOARD, f"run_{int(run):05d}")
            seen = os.path.isdir(logdir) and bool(os.listdir(logdir))
            # Events after the restored point are hidden; a run not logged before gets its points so far.
            writer = self.live.summary_writer(logdir, purge_step=int(self.live.steps[t0]) + 1 if seen else None)
            if not seen:
                for t in range(t0 + 1):
                    self._scalars(writer, int(self.live.steps[t]), {k: v[i, t] for k, v in curves.items()})
            self.writers[int(run)] = writer

    @staticmethod
    def _scalars(writer, step: int, values: dict) -> None:
        for name, value in values.items():
            if np.isfinite(value):
                writer.add_scalar(name, float(value), step)
        writer.flush()

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()
        self.writers = {}
