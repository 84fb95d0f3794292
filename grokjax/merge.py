"""Split a grid across jobs, and merge the jobs' run directories back into one.

A SLURM job array (launch/slurm_array.sh) gives job i of k the contiguous block
`shard_runs(n, i, k)` of the grid's runs; each job writes an ordinary run
directory plus shard.json. Merging concatenates the shards in index order, which
restores the grid's run order, and rewrites config.json, summary.csv (recomputed
by the engine's own `summarize`), metrics.npz and the plots:

    python -m grokjax.merge --out=runs/fig3 runs/fig3_shard*
"""
from __future__ import annotations

import glob
import os
import sys

import numpy as np

from grokjax.config import ConfigError
from grokjax.errors import OneLineParser
from grokjax.train import run_dir

SHARD_FILE = run_dir.SHARD


def shard_runs(n_runs: int, index: int, count: int) -> np.ndarray:
    """Run indices of shard `index` of `count`: contiguous, sizes differ by at most one."""
    if count <= 0:
        raise ConfigError(f"--num_shards={count} must be a positive integer")
    if not 0 <= index < count:
        raise ConfigError(f"--shard_index={index} is not allowed; it must be in [0, {count - 1}]")
    if count > n_runs:
        raise ConfigError(f"--num_shards={count} is larger than the grid ({n_runs} runs)")
    return np.array_split(np.arange(n_runs), count)[index]


def shard_grid(grid: dict, index: int, count: int) -> tuple[dict, np.ndarray]:
    """The runs of shard `index` of `count`: (sub-grid, their indices in the whole grid)."""
    runs = shard_runs(len(grid["model_seed"]), index, count)
    return {k: v[runs] for k, v in grid.items()}, runs


def shard_info(index: int, count: int, runs: np.ndarray, n_runs: int) -> dict:
    """shard.json: which block of the whole grid a run directory holds."""
    return {"index": index, "count": count, "n_runs": n_runs, "first_run": int(runs[0]), "last_run": int(runs[-1])}


def _read_shard(workdir: str) -> dict:
    config, metrics, summary = run_dir.read_config(workdir), run_dir.read_metrics(workdir), \
        run_dir.read_summary(workdir)
    if config is None or metrics is None or summary is None:
        raise ConfigError(f"{workdir} holds no finished run directory (config.json, metrics.npz, summary.csv)")
    progress = run_dir.read_progress(workdir)
    steps, curves, grid, _ = metrics
    return {"dir": workdir, "config": config, "shard": run_dir.read_json(workdir, SHARD_FILE),
            "steps": steps, "curves": curves, "grid": grid, "summary": summary,
            "complete": progress is None or bool(progress.get("complete", True))}


MERGE_FILES = (run_dir.CONFIG, run_dir.SUMMARY, run_dir.METRICS, run_dir.STREAM, run_dir.PROGRESS)


def check_merge_out(out: str, merged_from: list[str]) -> None:
    """ConfigError (one line) unless --out is new, empty (but for the shards themselves), or an earlier
    merge of the same shards: a merge never writes over another sweep or a user's files."""
    run_dir.check_writable_dir(out, "--out")
    if not os.path.isdir(out):
        return
    # The shards may lie inside --out (launch/README.md: --out=runs/x runs/x/shard_*).
    names = sorted(n for n in os.listdir(out) if os.path.abspath(os.path.join(out, n)) not in merged_from)
    if not names:
        return
    foreign = [n for n in names if n not in MERGE_FILES and not n.endswith(".png") and not n.startswith(".tmp-")]
    try:
        earlier = run_dir.read_config(out)
    except ConfigError:
        earlier = None
    if foreign or earlier is None or earlier.get("merged_from") != merged_from:
        shown = ", ".join((foreign or names)[:4]) + (" ..." if len(foreign or names) > 4 else "")
        raise ConfigError(f"--out={out} already holds files ({shown}) that are not an earlier merge of these "
                          "run directories; choose a new or empty directory")


def _order(shards: list[dict]) -> list[dict]:
    """Shards sorted by index; ConfigError unless they are exactly shards 0..k-1 of one split."""
    infos = [s["shard"] for s in shards]
    if all(i is None for i in infos):
        return shards  # plain run directories: merged in the order given
    if any(i is None for i in infos):
        missing = [s["dir"] for s in shards if s["shard"] is None]
        raise ConfigError(f"{missing[0]} has no {SHARD_FILE}; merge shards of one split only")
    count = infos[0]["count"]
    indices = sorted(i["index"] for i in infos)
    if any(i["count"] != count for i in infos) or indices != list(range(count)):
        raise ConfigError(f"expected shards 0..{count - 1} of one split, got indices {indices}")
    return sorted(shards, key=lambda s: s["shard"]["index"])


def merge_workdirs(workdirs: list[str], out: str, allow_incomplete: bool = False):
    """Merge run directories of one split grid into `out`; returns the merged SweepResult."""
    from grokjax.config import StaticConfig
    from grokjax.train.experiment import write_plots
    from grokjax.train.summary import seed_point_times, summarize
    from grokjax.train.sweep import SweepResult

    if not workdirs:
        raise ConfigError("no run directories to merge")
    shards = _order([_read_shard(d) for d in workdirs])
    first = shards[0]["config"]
    for s in shards[1:]:
        for key in ("static", "axes"):
            if s["config"].get(key) != first.get(key):
                raise ConfigError(f"{s['dir']} differs from {shards[0]['dir']} in its {key}; "
                                  "only shards of one sweep can be merged")
    incomplete = [s["dir"] for s in shards if not s["complete"]]
    if incomplete and not allow_incomplete:
        raise ConfigError(f"{incomplete[0]} is not finished (progress.json); rerun it or pass --allow_incomplete")
    steps = shards[0]["steps"]
    if any(not np.array_equal(s["steps"], steps) for s in shards):
        raise ConfigError("the shards were evaluated at different steps; they are not one sweep")
    merged_from = [os.path.abspath(s["dir"]) for s in shards]
    check_merge_out(out, merged_from)
    try:
        grid = {k: np.concatenate([s["grid"][k] for s in shards]) for k in shards[0]["grid"]}
        curves = {k: np.concatenate([s["curves"][k] for s in shards]) for k in shards[0]["curves"]}
        summaries = [s["summary"] for s in shards]
        diverged = np.concatenate([np.asarray(t["diverged"], bool) for t in summaries])
        diverged_step = np.concatenate([np.asarray(t["diverged_step"], np.int64) for t in summaries])
        static = {k: v for k, v in first["static"].items() if k in StaticConfig.__dataclass_fields__}
        result = SweepResult(cfg=StaticConfig(**static), grid=grid, steps=steps, curves=curves,
                             diverged=diverged, diverged_step=diverged_step)
        summary = summarize(result)
        rows, offset = [], 0
        for s in shards:  # the live streams too, with the shards' runs numbered as in the whole grid
            rows += [{**row, "run": row["run"] + offset} for row in run_dir.read_stream_rows(s["dir"])]
            offset += len(s["summary"])
    except (KeyError, ValueError, TypeError, IndexError) as err:
        raise ConfigError(f"the run directories do not fit together or one is damaged "
                          f"({run_dir.first_line(err)})") from None
    os.makedirs(out, exist_ok=True)
    n_runs = len(diverged)
    config = {**first, "n_runs": n_runs, "grid": {k: v.tolist() for k, v in grid.items()},
              "merged_from": merged_from}
    run_dir.write_json(os.path.join(out, run_dir.CONFIG), config)
    axes = list(first.get("axes", []))
    points = seed_point_times(summary, result.grid, axes)
    run_dir.write_results(out, result, summary, points)
    run_dir.atomic_write_bytes(os.path.join(out, run_dir.STREAM), run_dir.encode_rows(rows))
    write_plots(out, result, summary, axes, points)
    run_dir.write_progress(out, n_runs, n_runs, complete=not incomplete)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m grokjax.merge", description=__doc__.split("\n\n")[0])
    parser.add_argument("workdirs", nargs="+", help="run directories (shell globs are expanded)")
    parser.add_argument("--out", required=True, help="merged run directory")
    parser.add_argument("--allow_incomplete", action="store_true", help="merge shards that did not finish")
    args = parser.parse_args(argv)
    dirs = sorted({d for pattern in args.workdirs for d in (glob.glob(pattern) or [pattern])})
    dirs = [d for d in dirs if os.path.abspath(d) != os.path.abspath(args.out)]
    try:
        result = merge_workdirs(dirs, args.out, args.allow_incomplete)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"merged {len(dirs)} run directories ({len(result.diverged)} runs) into {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
