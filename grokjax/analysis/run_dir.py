"""Read a finished (or partly finished) sweep directory back: config, curves, summary, snapshots."""
from __future__ import annotations

import json
import os

import jax
import numpy as np

from grokjax.checkpoint.reader import SweepDir
from grokjax.config import ConfigError
from grokjax.workdir import atomic_write_bytes


def load_run_dir(workdir: str):
    """(cfg, grid, metrics, summary rows, saved steps, params_at(step) -> (G, ...) params).

    The saved steps are the parameter snapshots (--snapshot_steps); a sweep trained without them
    still has its final checkpoint, so the final parameters alone are read from there.
    """
    import pandas as pd  # local: only the readers need it
    sweep = SweepDir(workdir)
    cfg = sweep.static
    grid = {k: np.asarray(v, np.int32 if k in ("model_seed", "data_seed") else np.float32)
            for k, v in sweep.config["grid"].items()}
    with np.load(os.path.join(workdir, "metrics.npz")) as data:
        metrics = {k.replace("__", "/"): data[k] for k in data.files}
    summary = pd.read_csv(os.path.join(workdir, "summary.csv"))
    steps = sweep.snapshot_steps(0)
    if not steps:
        final = int(sweep.steps[-1])
        if final not in sweep.checkpoint_steps(0):
            raise ConfigError(f"{workdir} has no parameter snapshots and no final checkpoint; "
                              "train with --snapshot_steps=...")
        steps = [final]
    # An unfinished sweep: use the runs of the batches finished so far (summary.csv has them).
    n_done = len(summary)
    grid = {k: v[:n_done] for k, v in grid.items()}
    metrics = {k: (v if k == "steps" else v[:n_done]) for k, v in metrics.items()}
    done_batches = [b for b, runs in enumerate(sweep.batches()) if max(runs) < n_done]

    def params_at(step: int) -> dict:
        parts = [sweep.batch_params(b, step)[1] for b in done_batches]
        return jax.tree.map(lambda *a: np.concatenate(a), *parts)

    return cfg, grid, metrics, summary, steps, params_at


def require_workdir(workdir: str, what: str = "a finished sweep directory with parameter snapshots") -> str:
    """The --workdir of an analysis script, or the one-line error when it is missing."""
    if not workdir:
        raise ConfigError(f"--workdir is required: {what}")
    return workdir


def write_numbers(out: str, name: str, numbers: dict) -> dict:
    """An analysis script's numbers as `out/name` (JSON, indented for reading diffs); returns them.

    Written atomically (an interrupted script leaves the previous file whole); keys keep their
    insertion order, unlike workdir.write_json, so the committed files' diffs stay readable.
    """
    atomic_write_bytes(os.path.join(out, name), json.dumps(numbers, indent=1).encode())
    return numbers
