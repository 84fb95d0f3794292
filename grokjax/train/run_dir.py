"""The run directory every experiment writes (DESIGN.md): its layout, file names, name escaping,
atomic writes, the config.json schema, and reading it back. No other module names these files.

    config.json    the full configuration, enough to rerun (sweep_config; "format": FORMAT)
    flags.txt      the command-line flags, usable as --flagfile
    summary.csv    one row per run: hyperparameters, final and derived metrics
    grid_points.csv  one row per grid point with several seeds: steps to 99% validation, median
                   over the seeds with a bootstrap 95% interval (summary.grid_point_times)
    metrics.npz    curves, runs x evaluation points, plus `steps` and the grid (`hp__<name>`)
    metrics.jsonl  the live stream: one row per (run, evaluation point), appended after every chunk
    progress.json  runs finished so far; "complete" once every output is written
    figure.json    a figure's numbers (several sweeps drawn together)
    shard.json     which block of a split grid this directory holds (grokjax.merge)
    *.png          plots
    checkpoints/   Orbax checkpoints of each batch (grokjax.checkpoint.store)
    snapshots/     parameter snapshots (grokjax.checkpoint.snapshots)
    tensorboard/   TensorBoard event files, one directory per run (--tensorboard)
    sweeps/<label>/  a labelled set of run directories drawn together (SweepSet)

Metric names hold '/' (norm/U); in metrics.npz and Orbax checkpoints it is escaped as '__'
(`escape`), and grid columns in metrics.npz are prefixed `hp__`.
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

CONFIG, FLAGS, SUMMARY, METRICS, STREAM = "config.json", "flags.txt", "summary.csv", "metrics.npz", "metrics.jsonl"
GRID_POINTS = "grid_points.csv"
PROGRESS, FIGURE, SHARD, LOCK = "progress.json", "figure.json", "shard.json", ".lock"
LAYOUT = "layout.json"  # checkpoints/layout.json: the runs of each batch (grokjax.checkpoint.store)
CHECKPOINTS, SNAPSHOTS, TENSORBOARD, SWEEPS = "checkpoints", "snapshots", "tensorboard", "sweeps"
RESULT_FILES = (CONFIG, SUMMARY, METRICS, STREAM)
EXTRA_FILES = (FLAGS, PROGRESS, FIGURE, GRID_POINTS)
OUTPUT_DIRS = (CHECKPOINTS, SNAPSHOTS, TENSORBOARD, SWEEPS)
FORMAT = 2  # config.json "format"; 1 = written before it had one (still read)
HP_PREFIX = "hp__"
_UMASK = os.umask(0o022)  # read once, at import (before any thread could create a file)
os.umask(_UMASK)


# ----------------------------------------------------------------------------- names


def escape(name: str) -> str:
    """A metric name as a key of metrics.npz and of Orbax checkpoints ('/' would be a path there)."""
    return name.replace("/", "__")


def unescape(key: str) -> str:
    return key.replace("__", "/")


def pack_metrics(steps: np.ndarray, curves: dict[str, np.ndarray], grid: dict | None = None, **extra) -> dict:
    """metrics.npz's arrays: `steps`, the escaped curves, the grid as `hp__<name>`, and `extra` as given."""
    arrays = {"steps": np.asarray(steps), **{escape(k): v for k, v in curves.items()}}
    arrays.update({f"{HP_PREFIX}{k}": v for k, v in (grid or {}).items()})
    return {**arrays, **extra}


def unpack_metrics(arrays: dict[str, np.ndarray], extra: tuple[str, ...] = ()) -> tuple[np.ndarray, dict, dict]:
    """(steps, curves, grid) of metrics.npz's arrays; keys in `extra` (e.g. "group") are left out."""
    grid = {k[len(HP_PREFIX):]: v for k, v in arrays.items() if k.startswith(HP_PREFIX)}
    curves = {unescape(k): v for k, v in arrays.items()
              if k != "steps" and k not in extra and not k.startswith(HP_PREFIX)}
    return arrays["steps"], curves, grid


# ----------------------------------------------------------------------------- atomic writes


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


def write_text(path: str, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def write_json(path: str, obj, sort_keys: bool = True, indent: int = 2) -> None:
    """JSON, atomically; `sort_keys=False` keeps insertion order (readable diffs of committed numbers)."""
    write_text(path, json.dumps(obj, indent=indent, sort_keys=sort_keys, default=str) + "\n")


def write_numbers(out: str, name: str, numbers: dict) -> dict:
    """An analysis script's numbers as `out/name` (JSON in insertion order); returns them."""
    os.makedirs(out, exist_ok=True)
    write_json(os.path.join(out, name), numbers, sort_keys=False, indent=1)
    return numbers


def write_csv(path: str, columns: dict[str, np.ndarray]) -> None:
    """One row per run; readable by pandas.read_csv and numpy.genfromtxt(names=True)."""
    names = list(columns)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    n = len(next(iter(columns.values())))
    for i in range(n):
        writer.writerow([_cell(columns[k][i]) for k in names])
    write_text(path, out.getvalue())


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


def save_plot(path: str, plot, *args, **kwargs) -> None:
    """`plot(file, *args, **kwargs)` rendered into memory, then written atomically: never half a PNG."""
    buf = io.BytesIO()
    plot(buf, *args, **kwargs)
    atomic_write_bytes(path, buf.getvalue())


# ----------------------------------------------------------------------------- config.json


def sweep_config(cfg: StaticConfig, grid: dict, axes=(), max_runs_per_batch: int = 64,
                 snapshot_steps=(), snapshot_dtype: str = "float32", extra: dict | None = None) -> dict:
    """config.json of one sweep: everything its results depend on (a rerun resumes only if it is
    unchanged). `extra`: what else the runs depend on (e.g. a dataset's settings), flat name -> value."""
    return {"format": FORMAT, "static": dataclasses.asdict(cfg), "axes": list(axes),
            "n_runs": len(grid["model_seed"]), "grid": {k: np.asarray(v).tolist() for k, v in grid.items()},
            "max_runs_per_batch": int(max_runs_per_batch), "snapshot_steps": [int(s) for s in snapshot_steps],
            "snapshot_dtype": snapshot_dtype, "extra": dict(extra or {})}


def sweep_set_config(cfg: StaticConfig, sweeps: dict[str, dict], extra: dict | None = None) -> dict:
    """config.json of a labelled set of sweeps (their own config.json lie in sweeps/<label>/)."""
    return {"format": FORMAT, "kind": "sweep_set", "static": dataclasses.asdict(cfg), "labels": list(sweeps),
            "sweeps": json.loads(json.dumps(sweeps, default=str)), "extra": dict(extra or {})}


def read_config(workdir: str) -> dict | None:
    """The saved config.json, None if there is none; ConfigError (one line) if it is unreadable."""
    path = os.path.join(workdir, CONFIG)
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            config = json.load(f)
    except (OSError, ValueError) as err:
        raise ConfigError(f"{path} is unreadable ({err}); pass --overwrite to start over") from None
    if not isinstance(config, dict) or "static" not in config:
        raise ConfigError(f"{path} is not a grokjax sweep configuration; choose another --workdir")
    if config.get("format", 1) > FORMAT:
        raise ConfigError(f"{path} was written by a newer grokjax (format {config['format']}); update grokjax")
    return config


def config_differences(saved: dict, new: dict) -> str:
    """One line of what differs between a saved configuration and this run's ("" if nothing)."""
    from grokjax.checkpoint.identity import describe  # local: grokjax.checkpoint imports this module

    from grokjax.config import HPARAMS
    # A setting or hyperparameter added since the sweep was saved counts as its default there.
    defaults = {**dataclasses.asdict(StaticConfig()), **{k: spec.default for k, spec in HPARAMS.items()}}
    return describe(saved, new, defaults)


def _comparable(config: dict) -> dict:
    """What decides resume vs refuse: the format version and empty extras do not."""
    flat = {k: v for k, v in json.loads(json.dumps(config, default=str)).items() if k not in ("format", "extra")}
    return {**flat, **(config.get("extra") or {})}


# ----------------------------------------------------------------------------- preparing a workdir


_KERNEL_FILESYSTEMS = ("/proc", "/sys", "/dev")


def check_writable_dir(path: str, flag: str = "--workdir") -> None:
    """ConfigError (one line) unless `path` is, or can be made, a directory this process writes to.
    Writes nothing: the nearest existing ancestor is checked instead of creating `path`."""
    if not path:
        raise ConfigError(f"{flag} is required: the directory the results are written to")
    real = os.path.realpath(path)
    kernel = next((k for k in _KERNEL_FILESYSTEMS if real == k or real.startswith(k + "/")), None)
    if kernel:
        raise ConfigError(f"{flag}={path} is inside {kernel}, a kernel filesystem, not a place for results; "
                          "choose a directory on a disk")
    if os.path.exists(path) and not os.path.isdir(path):
        raise ConfigError(f"{flag}={path} exists and is not a directory")
    parent = real
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise ConfigError(f"{flag}={path} cannot be created: {parent} is a file, not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        where = "it" if parent == real else f"its existing parent {parent}"
        raise ConfigError(f"{flag}={path} is not writable: this user may not create files in {where}")


def check_writable_file(path: str, flag: str = "--out") -> None:
    """ConfigError (one line) unless `path` can be written as a file (its directory exists and is writable)."""
    if os.path.isdir(path):
        raise ConfigError(f"{flag}={path} is a directory; name a file")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ConfigError(f"{flag}={path}: its directory {folder} does not exist")
    check_writable_dir(folder, flag)


def check_workdir(workdir: str, config: dict | None = None, overwrite: bool = False, flag: str = "--workdir") -> bool:
    """The check before anything is written: ConfigError (one line, naming `flag`) unless `workdir` can
    hold the sweep `config`; True when it holds that sweep already (a resume). Reads only."""
    check_writable_dir(workdir, flag)
    if not os.path.isdir(workdir) or overwrite:
        return False
    saved = read_config(workdir)
    used = [f for f in (*RESULT_FILES, *OUTPUT_DIRS) if os.path.exists(os.path.join(workdir, f))]
    if used and (saved is None or config is None):
        raise ConfigError(f"{flag}={workdir} already holds results ({', '.join(used)}); "
                          "choose a new directory or pass --overwrite")
    if saved is not None:
        diff = config_differences(_comparable(saved), _comparable(config))
        if diff:
            raise ConfigError(f"{flag}={workdir} holds a sweep with a different configuration ({diff}); "
                              "pass --overwrite to start over")
        for name in (PROGRESS, os.path.join(CHECKPOINTS, LAYOUT)):  # what a resume reads next: damage refused now
            _read_json(os.path.join(workdir, name))
    return saved is not None


def prepare_workdir(workdir: str, config: dict | None = None, overwrite: bool = False, flag: str = "--workdir") -> bool:
    """Create or reuse `workdir` for the sweep `config`; True when it resumes one saved there.

    The same configuration as the saved config.json resumes; a different one is
    refused with one line naming what differs; `overwrite` removes grokjax's
    outputs (never other files) and starts over. Without `config`, any used
    workdir is refused. Everything is checked (check_workdir) before the first
    write; then a lock on the workdir is held until the process exits. Messages name `flag`.
    """
    check_workdir(workdir, config, overwrite, flag)
    try:
        os.makedirs(workdir, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=workdir, prefix=".probe-")
        probe.close()
    except OSError as err:
        raise ConfigError(f"{flag}={workdir} is not writable: creating a file there failed ({err.strerror})") \
            from None
    _lock(workdir, flag)
    if overwrite:
        clear_outputs(workdir)
    resuming = check_workdir(workdir, config, flag=flag)  # again, now that the lock keeps other sweeps out
    _remove_temporaries(workdir)
    return resuming


def start(workdir: str, config: dict, flags_text: str = "", overwrite: bool = False,
          files: dict | None = None, flag: str = "--workdir") -> bool:
    """prepare_workdir, then config.json, flags.txt and `files` (name -> JSON, e.g. shard.json)
    written; True when it resumes a saved sweep."""
    resuming = prepare_workdir(workdir, config, overwrite=overwrite, flag=flag)
    write_json(os.path.join(workdir, CONFIG), config)
    if flags_text:
        write_flags(workdir, flags_text)
    for name, obj in (files or {}).items():
        write_json(os.path.join(workdir, name), obj)
    return resuming


def write_flags(workdir: str, flags_text: str) -> None:
    """flags.txt: the command's flags, usable as --flagfile."""
    write_text(os.path.join(workdir, FLAGS), flags_text)


def clear_outputs(workdir: str) -> None:
    """Removes what grokjax wrote to `workdir`; config.json first, so a killed wipe is never resumed."""
    is_ours = os.path.exists(os.path.join(workdir, CONFIG))
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
    for pattern in (".tmp-*", ".probe-*", os.path.join(SNAPSHOTS, "*", ".tmp-*")):
        for path in glob.glob(os.path.join(workdir, pattern)):
            os.unlink(path)


_LOCKS: dict[str, object] = {}


def _lock(workdir: str, flag: str = "--workdir") -> None:
    """An advisory lock, released by the OS when the process ends (kill -9 included)."""
    path = os.path.realpath(workdir)
    if fcntl is None or path in _LOCKS:
        return
    f = open(os.path.join(path, LOCK), "w")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.close()
        raise ConfigError(f"{flag}={workdir} is in use by another running sweep; "
                          "wait for it or choose another directory") from None
    _LOCKS[path] = f


def is_running(workdir: str) -> bool:
    """Whether another process holds the workdir's lock (a sweep is training there now)."""
    path = os.path.join(workdir, LOCK)
    if fcntl is None or not os.path.exists(path) or os.path.realpath(workdir) in _LOCKS:
        return False
    with open(path) as f:
        try:
            fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(f, fcntl.LOCK_UN)
    return False


# ----------------------------------------------------------------------------- results


def write_results(workdir: str, result, summary: dict[str, np.ndarray], points: dict | None = None) -> None:
    """summary.csv and metrics.npz of a SweepResult (the runs finished so far), and grid_points.csv
    if `points` (summary.grid_point_times) is given."""
    write_csv(os.path.join(workdir, SUMMARY), summary)
    write_npz(os.path.join(workdir, METRICS), **pack_metrics(result.steps, result.curves, result.grid))
    if points is not None:
        write_csv(os.path.join(workdir, GRID_POINTS), points)


def write_progress(workdir: str, runs_done: int, n_runs: int, complete: bool) -> None:
    write_json(os.path.join(workdir, PROGRESS), {"runs_done": runs_done, "n_runs": n_runs, "complete": complete})


def _read_json(path: str):
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as err:
        raise ConfigError(f"{path} is unreadable ({err})") from None


def read_progress(workdir: str) -> dict | None:
    return _read_json(os.path.join(workdir, PROGRESS))


def read_json(workdir: str, name: str):
    """Another JSON file of the run directory (shard.json, figure.json, ...); None if missing."""
    return _read_json(os.path.join(workdir, name))


def load_npz(path: str) -> dict[str, np.ndarray]:
    """Every array of an .npz, read whole with allow_pickle=False; ConfigError (one line) if the file
    is damaged (truncated, not an npz, or holding object arrays, which only a foreign file has)."""
    import zipfile

    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as err:
        reason = "not an .npz archive of plain arrays" if "pickle" in str(err) else first_line(err)
        raise ConfigError(f"{path} is damaged ({reason}); rerun the sweep that wrote it") from None
    if not isinstance(arrays, dict) or any(a.dtype == object for a in arrays.values()):
        raise ConfigError(f"{path} is damaged (it holds object arrays); rerun the sweep that wrote it")
    return arrays


def first_line(err: BaseException, limit: int = 300) -> str:
    """An exception as one line for a message: its type and first line, shortened at a word boundary."""
    text = (str(err).strip().splitlines() or [""])[0]
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0] + " ..."
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def read_metrics(workdir: str, extra: tuple[str, ...] = ()) -> tuple[np.ndarray, dict, dict, dict] | None:
    """metrics.npz as (steps, curves, grid, the `extra` arrays); None if there is none; ConfigError if damaged."""
    path = os.path.join(workdir, METRICS)
    if not os.path.exists(path):
        return None
    arrays = load_npz(path)
    if "steps" not in arrays:
        raise ConfigError(f"{path} is damaged (it has no 'steps' array); rerun the sweep that wrote it")
    steps, curves, grid = unpack_metrics(arrays, extra)
    return steps, curves, grid, {k: arrays[k] for k in extra if k in arrays}


def read_summary(workdir: str):
    """summary.csv as a pandas DataFrame; None if there is none; ConfigError if damaged (it is written
    whole, so a missing last newline, a ragged row or a header without `run` means damage)."""
    path = os.path.join(workdir, SUMMARY)
    if not os.path.exists(path):
        return None
    import pandas as pd  # local: only the readers need it

    try:
        with open(path, newline="") as f:
            text = f.read()
        rows = list(csv.reader(io.StringIO(text)))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise ConfigError(f"{path} is damaged ({first_line(err)})") from None
    if not text.endswith("\n") or not rows or "run" not in rows[0] or "\0" in text:
        raise ConfigError(f"{path} is damaged (not a whole summary table with a 'run' column)")
    ragged = next((i for i, row in enumerate(rows) if len(row) != len(rows[0])), None)
    if ragged is not None:
        raise ConfigError(f"{path} is damaged (line {ragged + 1} has {len(rows[ragged])} fields, "
                          f"the header {len(rows[0])})")
    try:
        return pd.read_csv(io.StringIO(text))
    except (ValueError, pd.errors.ParserError) as err:
        raise ConfigError(f"{path} is damaged ({first_line(err)})") from None


# ----------------------------------------------------------------------------- the live stream


def stream_rows(batch: int, runs, grid: dict, t: int, step: int, metrics: dict[str, np.ndarray],
                time: float | None) -> list[dict]:
    """The metrics.jsonl rows of one evaluation point of a batch's real runs: run, batch, evaluation
    index t, step, wall time, every grid column and every metric (non-finite values as null)."""
    rows = []
    for i, run in enumerate(runs):
        row = {"run": int(run), "batch": int(batch), "t": int(t), "step": int(step), "time": time}
        row.update({k: _json_number(v[run]) for k, v in grid.items()})
        row.update({k: _json_number(v[i]) for k, v in metrics.items()})
        rows.append(row)
    return rows


def _json_number(v):
    v = v.item() if isinstance(v, np.generic) else v
    return None if isinstance(v, float) and not np.isfinite(v) else v


def encode_rows(rows: list[dict]) -> bytes:
    return "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in rows).encode()


def read_stream_rows(workdir: str) -> list[dict]:
    """metrics.jsonl's rows; a last line cut off by a write in progress is left out."""
    path = os.path.join(workdir, STREAM)
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        data = f.read()
    rows = []
    for line in data.split(b"\n"):
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue  # the unfinished last line (or a blank one)
    return rows


def read_stream(workdir: str):
    """The live metrics as a pandas DataFrame: one row per (run, evaluation point), readable while the
    sweep runs: `pandas.read_json(workdir/metrics.jsonl, lines=True)` of the whole lines written so far."""
    import pandas as pd
    path = os.path.join(workdir, STREAM)
    data = b""
    if os.path.exists(path):
        with open(path, "rb") as f:
            data = f.read()
    data = data[:data.rfind(b"\n") + 1]  # a line still being written is left out
    return pd.read_json(io.BytesIO(data), lines=True) if data else pd.DataFrame()


# ----------------------------------------------------------------------------- reading


class RunDir:
    """A run directory opened for reading: its configuration, progress and result files.
    grokjax.checkpoint.reader.SweepDir adds the checkpoints and parameters."""

    def __init__(self, workdir: str):
        if not os.path.exists(workdir):
            raise ConfigError(f"{workdir} does not exist")
        if not os.path.isdir(workdir):
            raise ConfigError(f"{workdir} is not a directory")
        path = os.path.join(workdir, CONFIG)
        if not os.path.exists(path):
            raise ConfigError(f"{workdir} is not a grokjax workdir (no {CONFIG})")
        try:
            with open(path) as f:
                self.config = json.load(f)
            if self.config.get("kind") == "sweep_set" or (
                    isinstance(self.config.get("sweeps"), list) and "grid" not in self.config):
                raise ConfigError(f"{workdir} is a set of sweeps ({', '.join(SweepSet(workdir).labels())}); "
                                  f"open one of {os.path.join(workdir, SWEEPS, '<label>')}")
            self.grid = {k: np.asarray(v) for k, v in self.config["grid"].items()}
            known = {f.name for f in dataclasses.fields(StaticConfig)}  # settings added or removed since
            self.static = StaticConfig(**{k: v for k, v in self.config["static"].items() if k in known})
        except KeyError as err:
            raise ConfigError(f"{path} is not a grokjax sweep configuration (it has no {err} entry)") from None
        except (OSError, ValueError, TypeError, AttributeError) as err:
            if isinstance(err, ConfigError):
                raise
            raise ConfigError(f"{path} is not a grokjax sweep configuration ({type(err).__name__}: {err})") \
                from None
        from grokjax.train.schedule import eval_steps

        self.workdir = os.path.abspath(workdir)  # Orbax refuses relative checkpoint paths
        self.n_runs = len(self.grid["model_seed"])
        self.axes = list(self.config.get("axes", []))
        self.steps = eval_steps(self.static.steps, self.static.eval_every, self.static.eval_schedule)
        self.progress = read_progress(workdir)
        self._metrics = None

    def path(self, name: str) -> str:
        return os.path.join(self.workdir, name)

    def metrics(self) -> tuple[np.ndarray, dict, dict, dict] | None:
        """metrics.npz (read once): (steps, curves, grid, {}) of the runs finished so far."""
        if self._metrics is None:
            self._metrics = read_metrics(self.workdir)
        return self._metrics

    def summary(self):
        return read_summary(self.workdir)

    def stream(self):
        return read_stream(self.workdir)

    def running(self) -> bool:
        return is_running(self.workdir)


class SweepSet:
    """A labelled set of sweeps under one workdir (a figure made of several sweeps): sweeps/<label>/,
    each an ordinary run directory, and the set's config.json at the top."""

    def __init__(self, workdir: str):
        self.workdir = workdir

    def path(self, label: str) -> str:
        return os.path.join(self.workdir, SWEEPS, label)

    def labels(self) -> list[str]:
        """Labels in the order config.json lists them, then any other sweep directory found."""
        config = _read_json(os.path.join(self.workdir, CONFIG)) or {}
        listed = config.get("labels") or [s.get("label") for s in config.get("sweeps") or [] if isinstance(s, dict)]
        folder = os.path.join(self.workdir, SWEEPS)
        found = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
        return [*(label for label in listed if label in found), *(f for f in found if f not in listed)]

    def open(self, label: str) -> RunDir:
        return RunDir(self.path(label))

    def __iter__(self):
        return iter(self.labels())


def is_sweep_set(workdir: str) -> bool:
    return os.path.isdir(os.path.join(workdir, SWEEPS))
