"""Inspect a sweep's workdir: its configuration, saved steps and a per-run table; extract one run.

    python -m grokjax.inspect runs/x                                  # overview (and a running sweep's progress)
    python -m grokjax.inspect runs/x --where=wd=5,frac=0.5 --step=1000 --out=params.npz
    python -m grokjax.inspect runs/x --run=3                          # run 3's latest parameters

In a notebook: `load_run(workdir, run, step)` -> (config, params, metrics) and
`load_sweep(workdir)` -> every run's curves and parameters as arrays.
A missing, partial or foreign directory gets one line "error: ..." and exit code 2.
"""
from __future__ import annotations

import io
import os
import sys
import textwrap
import time

import numpy as np

from grokjax.checkpoint.reader import RunConfig, SweepData, SweepDir, load_run, load_sweep
from grokjax.checkpoint.snapshots import flatten
from grokjax.config import HPARAMS, SEED_KEYS, ConfigError, StaticConfig
from grokjax.errors import OneLineParser
from grokjax.train import run_dir
from grokjax.train.summary import first_step_reaching, last_finite

__all__ = ["RunConfig", "SweepData", "load_run", "load_sweep", "main", "select_run"]
_DEFAULTS = StaticConfig()


def _g(v) -> str:
    return f"{v:g}" if isinstance(v, (float, np.floating)) else str(v)


def _steps_text(steps: list[int]) -> str:
    return ", ".join(map(str, steps)) if steps else "none"


def _step(v: float) -> str:
    return "-" if np.isnan(v) else str(int(v))


def describe_config(sweep: SweepDir) -> list[str]:
    """Static settings (all of them, changed ones first), constant hyperparameters, sweep shape."""
    static = vars(sweep.static)
    changed = [k for k, v in static.items() if v != getattr(_DEFAULTS, k) and not k.startswith("enable_")]
    rest = [k for k in static if k not in changed and not k.startswith("enable_")]
    varying = [k for k, v in sweep.grid.items() if len(np.unique(v)) > 1]
    constant = {k: v[0] for k, v in sweep.grid.items() if k not in varying}
    has_results = os.path.exists(sweep.path(run_dir.SUMMARY))
    status = "results written, no progress.json" if has_results else "nothing saved yet"
    if sweep.progress:
        p = sweep.progress
        state = "running" if sweep.running() else "interrupted: rerun the same command to resume"
        status = "complete" if p.get("complete") else \
            f"{state}; {p.get('runs_done', '?')}/{p.get('n_runs', '?')} runs finished"
    elif sweep.running():
        status = "running"
    wrap = lambda text: textwrap.fill(text, 110, subsequent_indent="    ")  # noqa: E731
    return [f"workdir: {sweep.workdir} ({status})",
            wrap("config: " + " ".join(f"{k}={_g(static[k])}" for k in changed)),
            wrap("  defaults: " + " ".join(f"{k}={_g(static[k])}" for k in rest)),
            wrap("hparams: " + " ".join(f"{k}={_g(v)}" for k, v in constant.items())),
            f"sweep: {sweep.n_runs} runs; axes: {', '.join(sweep.axes) or 'none'}; varying: "
            f"{', '.join(varying) or 'none'}; max_runs_per_batch={sweep.config.get('max_runs_per_batch', '?')}"]


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def live_progress(sweep: SweepDir, now: float | None = None) -> str | None:
    """One line from the live stream (metrics.jsonl): the batch in training and its step, runs finished,
    the training rate and an ETA (from the stream's wall times); None without a stream."""
    rows = run_dir.read_stream_rows(sweep.workdir)
    if not rows or sweep.progress and sweep.progress.get("complete"):
        return None
    final, n_runs = int(sweep.steps[-1]), sweep.n_runs
    last: dict[int, int] = {}
    by_batch: dict[int, list[dict]] = {}
    for row in rows:
        last[row["run"]] = max(last.get(row["run"], -1), row["step"])
        by_batch.setdefault(row["batch"], []).append(row)
    done = max(sum(step >= final for step in last.values()), (sweep.progress or {}).get("runs_done", 0))
    batch = max(by_batch)
    step = max(r["step"] for r in by_batch[batch])
    n_batches = len(sweep.batches()) or -(-n_runs // max(1, sweep.config.get("max_runs_per_batch", n_runs)))
    line = f"live: batch {batch + 1} of {n_batches} at step {step} of {final}; {done}/{n_runs} runs finished"
    spans = []  # (steps, seconds) trained in each batch, from the rows timed as they were written
    for batch_rows in by_batch.values():
        timed = sorted((r["time"], r["step"]) for r in batch_rows if r.get("time") is not None)
        if len(timed) > 1 and timed[-1][0] > timed[0][0]:
            spans.append((timed[-1][1] - timed[0][1], timed[-1][0] - timed[0][0]))
    if spans:
        rate = sum(s for s, _ in spans) / sum(t for _, t in spans)  # steps per second of one batch
        remaining = (final - step) + (n_batches - batch - 1) * final
        line += f"; {rate:.3g} steps/s, ETA {_duration(remaining / rate)}" if rate > 0 else ""
        latest = max(r["time"] for r in rows if r.get("time") is not None)
        line += f" (last point {_duration((now or time.time()) - latest)} ago)"
    return line


def describe_steps(sweep: SweepDir) -> list[str]:
    """Saved steps, one line when every batch has the same ones."""
    lines = []
    for kind, of in (("checkpoints", sweep.checkpoint_steps), ("snapshots", sweep.snapshot_steps)):
        per = [of(b) for b in range(len(sweep.batches()))]
        if not per or all(per[0] == p for p in per):
            lines.append(f"{kind}: steps {_steps_text(per[0] if per else [])}"
                         + (f" (each of {len(per)} batches)" if len(per) > 1 else ""))
        else:
            lines.append(f"{kind}: " + "; ".join(f"batch {b}: {_steps_text(p)}" for b, p in enumerate(per)))
    if sweep.config.get("snapshot_steps"):
        lines[-1] += f" [{sweep.config.get('snapshot_dtype', 'float32')}]"
    return lines


def run_table(sweep: SweepDir) -> str:
    """One row per run: varying hyperparameters, final accuracies, grokking steps, divergence, status."""
    import pandas as pd

    curves = sweep.curves()
    varying = [k for k in (*HPARAMS, *SEED_KEYS) if len(np.unique(sweep.grid[k])) > 1]
    table = pd.DataFrame({"run": np.arange(sweep.n_runs), **{k: sweep.grid[k] for k in varying}})
    if not curves:
        table["status"] = "pending"
        return table.to_string(index=False)
    steps, rows = sweep.steps, np.arange(sweep.n_runs)
    for name in ("train_acc", "val_acc"):
        if name in curves:
            table[f"final_{name}"] = last_finite(curves[name])
    for name, curve in (("step_train_99", "train_acc"), ("step_val_99", "val_acc")):  # grokking steps
        if curve in curves:
            table[name] = [_step(v) for v in first_step_reaching(curves[curve], steps, 0.99)]
    done, at = rows < sweep.finished, sweep.at_point
    diverged = np.zeros(sweep.n_runs, bool)
    summary = sweep.summary() if done.any() else None
    if summary is not None:
        column = summary.get("diverged")
        if column is not None:
            diverged[:len(column)] = np.asarray(column, bool)[:sweep.n_runs]
    # A diverged run reports NaN from its divergence on: NaN at its checkpoint's evaluation point.
    any_curve = curves.get("train_loss", next(iter(curves.values())))
    running = (~done) & (at >= 0)
    diverged[running] = np.isnan(any_curve[rows[running], at[running]])
    table["diverged"] = diverged
    table["status"] = ["done" if done[r] else (f"at step {steps[at[r]]}" if at[r] >= 0 else "pending")
                       for r in rows]
    return table.to_string(index=False, float_format=lambda v: f"{v:.3g}", na_rep="-")


def select_run(sweep: SweepDir, run: int | None, where: str | None, run_flag: bool = True) -> int:
    """The run index given by --run or by a --where=name=value,... filter that matches exactly one run."""
    if run is not None:
        sweep.check_run(run)
        return run
    match = np.ones(sweep.n_runs, bool)
    for term in where.split(","):
        name, sep, value = term.partition("=")
        name = name.strip()
        if not sep or name not in (*sweep.grid, "run"):
            raise ConfigError(f"--where={where!r}: write name=value,... with names from: "
                              f"run, {', '.join(sweep.grid)}")
        try:
            target = float(value)
        except ValueError:
            raise ConfigError(f"--where: {name}={value!r} is not a number") from None
        values = np.arange(sweep.n_runs) if name == "run" else sweep.grid[name]
        match &= np.isclose(values, target, rtol=1e-5, atol=1e-8)
    hits = np.flatnonzero(match)
    if not len(hits):
        values = "; ".join(f"{name}: {', '.join(_g(v) for v in np.unique(sweep.grid[name])[:10])}"
                           for name in (t.partition("=")[0].strip() for t in where.split(",")) if name in sweep.grid)
        raise ConfigError(f"--where={where} matches no run; the sweep has "
                          + (values or f"runs 0..{sweep.n_runs - 1}"))
    if len(hits) != 1:
        shown = ", ".join(map(str, hits[:10])) + (" ..." if len(hits) > 10 else "")
        raise ConfigError(f"--where={where} matches {len(hits)} runs{f' ({shown})' if len(hits) else ''}; "
                          "it must match exactly one (add a condition, e.g. model_seed=0"
                          + (", or use --run)" if run_flag else ")"))
    return int(hits[0])


def extract(workdir: str, run: int, step: int | None, out: str | None) -> list[str]:
    config, params, metrics = load_run(workdir, run, step)
    flat = flatten(params)
    hp = ", ".join(f"{k}={_g(v)}" for k, v in config.hparams.items())
    lines = [f"run {run} at step {config.step}: {hp}", f"{'parameter':<28} {'shape':<16} {'dtype':<8} norm"]
    lines += [f"{name:<28} {str(a.shape):<16} {str(a.dtype):<8} {np.linalg.norm(a.astype(np.float64)):.4g}"
              for name, a in flat.items()]
    if out:
        buf = io.BytesIO()
        np.savez(buf, **flat)
        run_dir.atomic_write_bytes(out, buf.getvalue())
        lines.append(f"wrote {len(flat)} arrays to {out} (names are parameter paths joined by '/')")
    return lines


def describe_set(workdir: str) -> list[str]:
    """A labelled set of sweeps (run_dir.SweepSet): one line per sweep, and the set's summary.csv."""
    sweeps = run_dir.SweepSet(workdir)
    lines = [f"workdir: {workdir} (a set of {len(sweeps.labels())} sweeps in {run_dir.SWEEPS}/)"]
    for label in sweeps:
        sweep = SweepDir(sweeps.path(label))  # a damaged sweep of the set: one line, exit code 2
        status = describe_config(sweep)[0].split(" (", 1)[-1].rstrip(")")
        lines.append(f"  {label}: {sweep.n_runs} runs, {status}")
        live = live_progress(sweep)
        if live:
            lines.append(f"    {live}")
    table = run_dir.read_summary(workdir)
    if table is not None:
        keep = [c for c in table.columns if c in ("run", "group", "label", *HPARAMS, *SEED_KEYS) and
                (c in ("run", "group", "label") or table[c].nunique() > 1)]
        keep += [c for c in ("final_train_acc", "final_val_acc", "step_train_acc_99", "step_val_acc_99", "diverged")
                 if c in table.columns]
        lines += ["", table[keep].to_string(index=False, float_format=lambda v: f"{v:.3g}", na_rep="-")]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m grokjax.inspect", description=__doc__.splitlines()[0])
    parser.add_argument("workdir")
    parser.add_argument("--run", type=int, help="extract this run's parameters")
    parser.add_argument("--where", help="select the run by hyperparameters, e.g. wd=5,frac=0.5")
    parser.add_argument("--step", type=int, help="step of the parameters (default: latest saved)")
    parser.add_argument("--out", help="write the run's parameters to this .npz")
    args = parser.parse_args(argv)
    try:
        if run_dir.is_sweep_set(args.workdir) and args.run is None and args.where is None:
            print("\n".join(describe_set(args.workdir)))
            return 0
        sweep = SweepDir(args.workdir)
        if args.run is None and args.where is None:
            if args.step is not None or args.out:
                raise ConfigError("--step and --out need a run: pass --run=N or --where=name=value,...")
            live = live_progress(sweep)
            lines = [*describe_config(sweep), *([live] if live else []), *describe_steps(sweep), "",
                     run_table(sweep)]
        else:
            if args.out:
                run_dir.check_writable_file(args.out, "--out")
            lines = extract(args.workdir, select_run(sweep, args.run, args.where), args.step, args.out)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        print("\n".join(lines))
    except BrokenPipeError:  # `... | head`: the reader left; not an error
        sys.stdout = open(os.devnull, "w")
    return 0


if __name__ == "__main__":
    sys.exit(main())
