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
import json
import os
import sys

import numpy as np

from grokjax.config import ConfigError

SHARD_FILE = "shard.json"


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


def write_shard_info(workdir: str, index: int, count: int, runs: np.ndarray, n_runs: int) -> None:
    from grokjax.workdir import write_json
    os.makedirs(workdir, exist_ok=True)
    write_json(os.path.join(workdir, SHARD_FILE), {"index": index, "count": count, "n_runs": n_runs,
                                                   "first_run": int(runs[0]), "last_run": int(runs[-1])})


def _read_json(path: str) -> dict | None:
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def _read_shard(workdir: str) -> dict:
    config = _read_json(os.path.join(workdir, "config.json"))
    if config is None or not os.path.exists(os.path.join(workdir, "metrics.npz")):
        raise ConfigError(f"{workdir} holds no finished run directory (config.json, metrics.npz)")
    progress = _read_json(os.path.join(workdir, "progress.json"))
    with np.load(os.path.join(workdir, "metrics.npz")) as npz:
        arrays = {k: npz[k] for k in npz.files}
    import pandas as pd
    summary = pd.read_csv(os.path.join(workdir, "summary.csv"))
    return {"dir": workdir, "config": config, "shard": _read_json(os.path.join(workdir, SHARD_FILE)),
            "arrays": arrays, "summary": summary,
            "complete": progress is None or bool(progress.get("complete", True))}


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
    from grokjax.train.experiment import write_plots, write_progress
    from grokjax.train.summary import summarize
    from grokjax.train.sweep import SweepResult
    from grokjax.workdir import write_json, write_results

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
    steps = shards[0]["arrays"]["steps"]
    if any(not np.array_equal(s["arrays"]["steps"], steps) for s in shards):
        raise ConfigError("the shards were evaluated at different steps; they are not one sweep")

    def cat(key):
        return np.concatenate([s["arrays"][key] for s in shards])
    names = [k for k in shards[0]["arrays"] if k != "steps"]
    grid = {k[4:]: cat(k) for k in names if k.startswith("hp__")}
    curves = {k.replace("__", "/"): cat(k) for k in names if not k.startswith("hp__")}
    summaries = [s["summary"] for s in shards]
    diverged = np.concatenate([np.asarray(t["diverged"], bool) for t in summaries])
    diverged_step = np.concatenate([np.asarray(t["diverged_step"], np.int64) for t in summaries])
    static = {k: v for k, v in first["static"].items() if k in StaticConfig.__dataclass_fields__}
    result = SweepResult(cfg=StaticConfig(**static), grid=grid, steps=steps, curves=curves,
                         diverged=diverged, diverged_step=diverged_step)
    summary = summarize(result)
    os.makedirs(out, exist_ok=True)
    n_runs = len(diverged)
    config = {**first, "n_runs": n_runs, "grid": {k: v.tolist() for k, v in grid.items()},
              "merged_from": [os.path.abspath(s["dir"]) for s in shards]}
    write_json(os.path.join(out, "config.json"), config)
    write_results(out, result, summary)
    write_plots(out, result, summary, list(first.get("axes", [])))
    write_progress(out, n_runs, n_runs, complete=not incomplete)
    return result


def main(argv: list[str] | None = None) -> int:
    import argparse
    parser = argparse.ArgumentParser(prog="python -m grokjax.merge", description=__doc__.split("\n\n")[0])
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
