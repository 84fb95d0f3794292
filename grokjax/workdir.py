"""The run directory every experiment writes (see DESIGN.md), written atomically.

    config.json   the full configuration, enough to rerun
    flags.txt     the command-line flags, usable as --flagfile
    summary.csv   one row per run
    metrics.npz   curves, runs x evaluation points, plus `steps`
    *.png         plots
    progress.json batches finished so far; "complete" once every output is written
    checkpoints/  Orbax checkpoints of each batch (grokjax.checkpoint.store)
    snapshots/    parameter snapshots (grokjax.checkpoint.snapshots)
"""
from __future__ import annotations

import csv
import dataclasses
import glob
import io
import json
import os
import shutil
import tempfile

try:
    import fcntl
except ImportError:  # not POSIX: no workdir lock
    fcntl = None

import numpy as np

from grokjax.config import ConfigError, StaticConfig

_UMASK = os.umask(0o022)  # read once, at import (before any thread could create a file)
os.umask(_UMASK)
RESULT_FILES = ("config.json", "summary.csv", "metrics.npz")
PROGRESS_FILE = "progress.json"
EXTRA_FILES = ("flags.txt", PROGRESS_FILE)
OUTPUT_DIRS = ("checkpoints", "snapshots")


def atomic_write_bytes(path: str, data: bytes) -> None:
    """Write to a temporary file in the same directory, then rename: never a torn file."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".tmp-")
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp's 0600 would hide results from collaborators
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def prepare_workdir(workdir: str, config: dict | None = None, overwrite: bool = False) -> bool:
    """Create or reuse `workdir` for the sweep `config`; True when it resumes one saved there.

    The same configuration as the saved config.json resumes; a different one is
    refused with one line naming what differs; `overwrite` removes grokjax's
    outputs (never other files) and starts over. Without `config`, any used
    workdir is refused. Holds a lock on the workdir until the process exits.
    """
    if not workdir:
        raise ConfigError("--workdir is required: the directory the run writes its results to")
    if os.path.exists(workdir) and not os.path.isdir(workdir):
        raise ConfigError(f"--workdir={workdir} exists and is not a directory")
    try:
        os.makedirs(workdir, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=workdir, prefix=".probe-")
        probe.close()
    except OSError as err:
        raise ConfigError(f"--workdir={workdir} is not writable ({err.strerror})") from None
    _lock(workdir)
    if overwrite:
        clear_outputs(workdir)
    saved = read_config(workdir)
    used = [f for f in (*RESULT_FILES, *OUTPUT_DIRS) if os.path.exists(os.path.join(workdir, f))]
    if used and (saved is None or config is None):
        raise ConfigError(f"--workdir={workdir} already holds results ({', '.join(used)}); "
                          "choose a new directory or pass --overwrite")
    if saved is not None:
        from grokjax.checkpoint.identity import describe  # local: grokjax.checkpoint imports this module

        defaults = dataclasses.asdict(StaticConfig())
        diff = describe(saved, json.loads(json.dumps(config, default=str)), defaults)
        if diff:
            raise ConfigError(f"--workdir={workdir} holds a sweep with a different configuration ({diff}); "
                              "pass --overwrite to start over")
    _remove_temporaries(workdir)
    return saved is not None


def read_config(workdir: str) -> dict | None:
    """The saved config.json, None if there is none; ConfigError (one line) if it is unreadable."""
    path = os.path.join(workdir, "config.json")
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            config = json.load(f)
    except (OSError, ValueError) as err:
        raise ConfigError(f"{path} is unreadable ({err}); pass --overwrite to start over") from None
    if not isinstance(config, dict) or "static" not in config:
        raise ConfigError(f"{path} is not a grokjax sweep configuration; choose another --workdir")
    return config


def clear_outputs(workdir: str) -> None:
    """Removes what grokjax wrote to `workdir`; config.json first, so a killed wipe is never resumed."""
    is_ours = os.path.exists(os.path.join(workdir, "config.json"))
    for name in (*RESULT_FILES, *EXTRA_FILES):
        if os.path.exists(os.path.join(workdir, name)):
            os.unlink(os.path.join(workdir, name))
    for name in OUTPUT_DIRS:
        shutil.rmtree(os.path.join(workdir, name), ignore_errors=True)
    if is_ours:  # plots of a grokjax sweep; pictures in someone else's directory are left alone
        for path in glob.glob(os.path.join(workdir, "*.png")):
            os.unlink(path)


def _remove_temporaries(workdir: str) -> None:
    """Leftovers of atomic writes interrupted by a kill (ours: the workdir is locked)."""
    for pattern in (".tmp-*", ".probe-*", os.path.join("snapshots", "*", ".tmp-*")):
        for path in glob.glob(os.path.join(workdir, pattern)):
            os.unlink(path)


_LOCKS: dict[str, object] = {}


def _lock(workdir: str) -> None:
    """An advisory lock, released by the OS when the process ends (kill -9 included)."""
    path = os.path.realpath(workdir)
    if fcntl is None or path in _LOCKS:
        return
    f = open(os.path.join(path, ".lock"), "w")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.close()
        raise ConfigError(f"--workdir={workdir} is in use by another running sweep; "
                          "wait for it or choose another directory") from None
    _LOCKS[path] = f


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
