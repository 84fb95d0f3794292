"""The run directory every experiment writes (see DESIGN.md), written atomically.

    config.json   the full configuration, enough to rerun
    flags.txt     the command-line flags, usable as --flagfile
    summary.csv   one row per run
    metrics.npz   curves, runs x evaluation points, plus `steps`
    *.png         plots
"""
from __future__ import annotations

import csv
import io
import json
import os
import tempfile

import numpy as np

from grokjax.config import ConfigError

RESULT_FILES = ("config.json", "summary.csv", "metrics.npz")


def atomic_write_bytes(path: str, data: bytes) -> None:
    """Write to a temporary file in the same directory, then rename: never a torn file."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def prepare_workdir(workdir: str, overwrite: bool = False) -> None:
    """Create `workdir`; refuse (one line) one that is unwritable or already holds results."""
    if not workdir:
        raise ConfigError("--workdir is required: the directory the run writes its results to")
    if os.path.exists(workdir) and not os.path.isdir(workdir):
        raise ConfigError(f"--workdir={workdir} exists and is not a directory")
    used = [f for f in RESULT_FILES if os.path.exists(os.path.join(workdir, f))]
    if used and not overwrite:
        raise ConfigError(f"--workdir={workdir} already holds results ({', '.join(used)}); "
                          "choose a new directory or pass --overwrite")
    try:
        os.makedirs(workdir, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=workdir, prefix=".probe-")
        probe.close()
    except OSError as err:
        raise ConfigError(f"--workdir={workdir} is not writable ({err.strerror})") from None


def write_json(path: str, obj) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n").encode())


def write_csv(path: str, columns: dict[str, np.ndarray]) -> None:
    """One row per run; readable by pandas.read_csv and numpy.genfromtxt(names=True)."""
    names = list(columns)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    n = len(next(iter(columns.values())))
    for i in range(n):
        writer.writerow([_cell(columns[k][i]) for k in names])
    atomic_write_bytes(path, out.getvalue().encode())


def _cell(v):
    if isinstance(v, (bool, np.bool_)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return "nan" if np.isnan(v) else f"{float(v):.6g}"
    return v.item() if isinstance(v, np.generic) else v


def write_npz(path: str, **arrays) -> None:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def write_results(workdir: str, result, summary: dict[str, np.ndarray]) -> None:
    write_csv(os.path.join(workdir, "summary.csv"), summary)
    arrays = {"steps": result.steps, **{k.replace("/", "__"): v for k, v in result.curves.items()}}
    arrays.update({f"hp__{k}": v for k, v in result.grid.items()})
    write_npz(os.path.join(workdir, "metrics.npz"), **arrays)
