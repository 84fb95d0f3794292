"""Read a finished (or partly finished) sweep directory back: config, curves, summary, snapshots."""
from __future__ import annotations

import dataclasses
import json
import os

import jax
import numpy as np

from grokjax.checkpoint import snapshots
from grokjax.config import ConfigError, StaticConfig
from grokjax.workdir import atomic_write_bytes


def load_run_dir(workdir: str):
    """(cfg, grid, metrics, summary rows, snapshot steps, params_at(step) -> (G, ...) params)."""
    import pandas as pd  # local: only the readers need it
    with open(os.path.join(workdir, "config.json")) as f:
        config = json.load(f)
    known = {f.name for f in dataclasses.fields(StaticConfig)}
    cfg = StaticConfig(**{k: v for k, v in config["static"].items() if k in known})
    grid = {k: np.asarray(v, np.int32 if k in ("model_seed", "data_seed") else np.float32)
            for k, v in config["grid"].items()}
    with np.load(os.path.join(workdir, "metrics.npz")) as data:
        metrics = {k.replace("__", "/"): data[k] for k in data.files}
    summary = pd.read_csv(os.path.join(workdir, "summary.csv"))
    with open(os.path.join(workdir, "checkpoints", "layout.json")) as f:
        batches = json.load(f)["batches"]
    steps = snapshots.saved_steps(workdir, 0)
    if not steps:
        raise ConfigError(f"{workdir} has no parameter snapshots; train with --snapshot_steps=...")
    # An unfinished sweep: use the runs of the batches finished so far (summary.csv has them).
    n_done = len(summary)
    grid = {k: v[:n_done] for k, v in grid.items()}
    metrics = {k: (v if k == "steps" else v[:n_done]) for k, v in metrics.items()}
    done_batches = [b for b, runs in enumerate(batches) if max(runs) < n_done]

    def params_at(step: int) -> dict:
        parts = [snapshots.read(workdir, b, step) for b in done_batches]
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
