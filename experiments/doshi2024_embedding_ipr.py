"""Doshi et al. (2024) Figures 7, 12-14: IPR of the neurons connected to the input (embedding) layer.

For any finished sweep with parameter snapshots: a transformer (one IPR per embedding
dimension, over the number tokens) or an MLP of any depth (rows of U and V; for depth > 1 this
is the "input layer" of Figure 14). Also the output layer (columns of W, rows of the
unembedding), which Figure 14 shows for the 3-layer MLPs.

    python experiments/phase_diagram.py --flagfile=experiments/flags/doshi2024_fig7_transformer_cpu.flags \
        --workdir=runs/doshi2024_fig7_transformer_cpu
    python experiments/doshi2024_embedding_ipr.py --workdir=runs/doshi2024_fig7_transformer_cpu \
        --out=docs/figures/doshi2024 --prefix=fig7_transformer_cpu

With --compare_grids=label=dir,label=dir (Figure 12: one sweep per transformer configuration) it
draws one row per sweep instead, and writes <prefix>_embedding_ipr.png and <prefix>_ipr_numbers.json.

Writes <prefix>_embedding_ipr.png, <prefix>_output_ipr.png (one histogram per grid point, laid
out like the phase diagram: columns = x axis, rows = y axis; seeds pooled; the first snapshot in
gray when it is step 0) and <prefix>_ipr_numbers.json (per grid point: axes, phase, final
accuracies, mean embedding / output IPR, the fraction of embedding neurons with IPR < 0.2).

Figure 14 compares sweeps that differ in one static setting (the MLP's --init) at one grid point:

    python experiments/doshi2024_embedding_ipr.py --compare=runs/a,runs/b,runs/c --where=wd=6,xi=0.2 \
        --out=docs/figures/doshi2024 --prefix=fig14_mlp3_cpu_wd6_xi0.2

writes <prefix>_compare.png (rows = sweeps, columns = input-layer and output-layer IPR) and
<prefix>_compare_numbers.json.
"""
from __future__ import annotations

import os

import numpy as np
from absl import flags

from grokjax import cli
from grokjax.analysis import ipr as ipr_lib
from grokjax.checkpoint.reader import SweepDir, load_run_dir
from grokjax.config import ConfigError
from grokjax.data.datasets import operation_dataset
from grokjax.plotting import doshi as plots
from grokjax.train.run_dir import RunDir, write_numbers

cli.define_flags()  # --workdir (a finished sweep directory with parameter snapshots)
FLAGS = flags.FLAGS
# Each flag only if missing: the scripts are importable together (tests).
for _define, _name, _default, _help in (
        (flags.DEFINE_string, "out", "docs/figures/doshi2024", "directory for the PNGs and the numbers JSON"),
        (flags.DEFINE_string, "prefix", "fig7", "file name prefix"),
        (flags.DEFINE_string, "compare", "", "comma-separated finished sweeps to compare at the --where point "
                                             "(instead of --workdir)"),
        (flags.DEFINE_string, "where", "", "with --compare: the grid point, e.g. wd=6,xi=0.2 (one run per sweep)"),
        (flags.DEFINE_string, "compare_grids", "", "label=workdir,label=workdir: one row of embedding IPR histograms per "
                                                   "sweep, its whole grid (Figure 12's configurations); replaces --workdir"),
):
    if _name not in FLAGS:
        _define(_name, _default, _help)

LOW_IPR = 0.2  # below this a neuron counts as non-periodic (memorizing), as in Figure 4's reading
SUMMARY_COLUMNS = ("final_train_acc", "final_val_acc", "final_train_clean_acc", "final_train_corrupt_acc",
                   "final_train_corrupt_true_acc", "best_val_acc")


def layer_ipr_stats(layer: str, values: np.ndarray, initial: np.ndarray | None = None) -> dict:
    """Mean IPR of one layer's neurons, the fraction below LOW_IPR, and the mean at step 0 if given."""
    stats = {f"mean_{layer}_ipr": float(np.nanmean(values)),
             f"frac_{layer}_ipr_below_{LOW_IPR}": float(np.mean(values < LOW_IPR))}
    if initial is not None:
        stats[f"mean_{layer}_ipr_init"] = float(np.nanmean(initial))
    return stats


def grid_cells(grid: dict, axes: list[str]) -> tuple[list[tuple], list[np.ndarray], int]:
    """Runs grouped by grid point (seeds pooled), row-major with rows = y axis, columns = x axis.

    Returns (the points' axis values, the run indices of each point, the number of columns).
    """
    x = grid[axes[0]] if axes else np.zeros(len(grid["wd"]))
    y = grid[axes[1]] if len(axes) > 1 else np.zeros_like(x)
    xs, ys = np.unique(x), np.unique(y)
    points, runs = [], []
    for yv in ys:
        for xv in xs:
            members = np.flatnonzero((x == xv) & (y == yv))
            if len(members):
                points.append((round(float(xv), 6), round(float(yv), 6)))  # float32 grid
                runs.append(members)
    return points, runs, len(xs)


def ipr_cells(workdir: str) -> dict:
    """Per grid point of a finished sweep (seeds pooled): embedding / output IPR (trained and,
    if snapshotted, at step 0), titles, the number of columns and the numbers of each point."""
    cfg, grid, _, summary, snap_steps, params_at = load_run_dir(workdir)
    axes = RunDir(workdir).axes
    n_elements = operation_dataset(cfg.op, cfg.p).n_classes  # number tokens, not OP/EQ
    final = params_at(snap_steps[-1])
    embedding = ipr_lib.embedding_ipr(final, n_elements)  # (G, width)
    output = ipr_lib.output_ipr(final)  # (G, width or p)
    has_init = snap_steps[0] == 0 and len(snap_steps) > 1
    initial = params_at(0) if has_init else None
    init_embedding = ipr_lib.embedding_ipr(initial, n_elements) if has_init else None
    init_output = ipr_lib.output_ipr(initial) if has_init else None
    points, runs, n_cols = grid_cells(grid, axes)
    pool = lambda values: [np.concatenate([values[i] for i in r]) for r in runs]  # noqa: E731
    phase = lambda r: "/".join(sorted(set(summary["phase"][r]))) if "phase" in summary else ""  # noqa: E731
    names = (axes + ["", ""])[:2]
    titles = [", ".join(f"{n}={v:g}" for n, v in zip(names, pt) if n) + f": {phase(r)}"
              for pt, r in zip(points, runs)]
    rows = []
    for pt, r in zip(points, runs):
        rows.append({"runs": r.tolist(), **{n: v for n, v in zip(names, pt) if n},
                     **{k: round(float(grid[k][r[0]]), 6) for k in ("frac", "xi", "wd", "dropout")},
                     "phase": phase(r),
                     **{c: float(np.mean(summary[c][r])) for c in SUMMARY_COLUMNS if c in summary},
                     **layer_ipr_stats("embedding", embedding[r], init_embedding[r] if has_init else None),
                     **layer_ipr_stats("output", output[r], init_output[r] if has_init else None)})
    return {"cfg": cfg, "axes": axes, "snapshot_step": snap_steps[-1], "titles": titles, "n_cols": n_cols,
            "embedding": pool(embedding), "embedding_init": pool(init_embedding) if has_init else None,
            "output": pool(output), "output_init": pool(init_output) if has_init else None,
            "points": rows}


def _static(cfg) -> dict:
    return {k: getattr(cfg, k) for k in ("model", "p", "width", "depth", "heads", "causal", "tie_embeddings",
                                         "activation", "norm", "loss", "steps")}


def embedding_ipr_figures(workdir: str, out: str, prefix: str) -> dict:
    cells = ipr_cells(workdir)
    os.makedirs(out, exist_ok=True)
    kind = f"{cells['cfg'].model}, depth {cells['cfg'].depth}"
    for layer in ("embedding", "output"):
        plots.plot_ipr_histogram_grid(os.path.join(out, f"{prefix}_{layer}_ipr.png"), cells[layer],
                                      cells[f"{layer}_init"], cells["titles"], cells["n_cols"],
                                      f"{'embedding' if layer == 'embedding' else 'output-layer'} IPR ({kind})")
    numbers = {"workdir": workdir, "axes": cells["axes"], "snapshot_step": cells["snapshot_step"],
               "static": _static(cells["cfg"]), "points": cells["points"]}
    return write_numbers(out, f"{prefix}_ipr_numbers.json", numbers)


def parse_compare(text: str) -> list[tuple[str, str]]:
    """'label=dir,label=dir' -> [(label, dir), ...]; ConfigError naming --compare_grids if malformed."""
    pairs = [item.split("=", 1) for item in text.split(",") if item]
    if not pairs or any(len(p) != 2 or not all(p) for p in pairs):
        raise ConfigError(f"--compare_grids={text!r} is malformed; write label=workdir,label=workdir")
    return [(label, workdir) for label, workdir in pairs]


def compare_figures(labeled: list[tuple[str, str]], out: str, prefix: str) -> dict:
    """Figure 12: one row of embedding IPR histograms per sweep (a configuration), its grid points
    as columns; numbers per configuration and point."""
    all_cells = [(label, ipr_cells(workdir), workdir) for label, workdir in labeled]
    n_cols = max(c["n_cols"] for _, c, _ in all_cells)
    final, initial, titles = [], [], []
    empty = np.full(1, np.nan)
    for label, cells, _ in all_cells:
        pad = n_cols - len(cells["titles"]) % n_cols if len(cells["titles"]) % n_cols else 0
        final += cells["embedding"] + [empty] * pad
        initial += (cells["embedding_init"] or [empty] * len(cells["titles"])) + [empty] * pad
        titles += [f"{label}: {t}" for t in cells["titles"]] + [""] * pad
    os.makedirs(out, exist_ok=True)
    plots.plot_ipr_histogram_grid(os.path.join(out, f"{prefix}_embedding_ipr.png"), final, initial, titles,
                                  n_cols, "embedding IPR")
    numbers = {"configs": [{"label": label, "workdir": workdir, "static": _static(cells["cfg"]),
                            "axes": cells["axes"], "points": cells["points"]}
                           for label, cells, workdir in all_cells]}
    return write_numbers(out, f"{prefix}_ipr_numbers.json", numbers)


def compare_sweeps(workdirs: list[str], where: str, out: str, prefix: str) -> dict:
    """Input- and output-layer IPR of the run at `where` in each sweep (Figure 14's rows)."""
    from grokjax.inspect import select_run  # local: the --where parsing of `python -m grokjax.inspect`

    finals, inits, titles, rows = [], [], [], []
    for workdir in workdirs:
        run = select_run(SweepDir(workdir), None, where, run_flag=False)
        cfg, grid, _, summary, snap_steps, params_at = load_run_dir(workdir)
        n_elements = operation_dataset(cfg.op, cfg.p).n_classes
        pick = lambda params: {k: v[run] for k, v in params.items()}  # noqa: E731
        final = pick(params_at(snap_steps[-1]))
        initial = pick(params_at(0)) if snap_steps[0] == 0 and len(snap_steps) > 1 else None
        layers = {"embedding": lambda p: ipr_lib.embedding_ipr(p, n_elements), "output": ipr_lib.output_ipr}
        row = {"workdir": workdir, "run": run, "init": cfg.init, "phase": str(summary["phase"][run]),
               **{c: float(summary[c][run]) for c in SUMMARY_COLUMNS if c in summary}}
        for layer, of in layers.items():
            values = of(final)
            finals.append(values)
            inits.append(of(initial) if initial is not None else np.full_like(values, np.nan))
            titles.append(f"init={cfg.init}, {where}: {row['phase']}\n"
                          + ("input layer (rows of U, V)" if layer == "embedding" else "output layer (columns of W)"))
            row.update(layer_ipr_stats(layer, values, inits[-1] if initial is not None else None))
        rows.append(row)
    os.makedirs(out, exist_ok=True)
    plots.plot_ipr_histogram_grid(os.path.join(out, f"{prefix}_compare.png"), finals, inits, titles, 2,
                                  "IPR")
    return write_numbers(out, f"{prefix}_compare_numbers.json", {"where": where, "sweeps": rows})


def main(argv):
    del argv  # cli.parse_flags_or_exit already refused positional arguments
    try:
        if FLAGS.compare:
            if not FLAGS.where:
                raise ConfigError("--compare needs --where=name=value,... (the grid point to compare)")
            numbers = compare_sweeps(FLAGS.compare.split(","), FLAGS.where, FLAGS.out, FLAGS.prefix)
            for row in numbers["sweeps"]:
                print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()})
            return
        if FLAGS.compare_grids:
            numbers = compare_figures(parse_compare(FLAGS.compare_grids), FLAGS.out, FLAGS.prefix)
            rows = [{"config": c["label"], **row} for c in numbers["configs"] for row in c["points"]]
        else:
            rows = embedding_ipr_figures(cli.require_workdir(FLAGS.workdir), FLAGS.out, FLAGS.prefix)["points"]
        for row in rows:
            print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items() if k != "runs"})
    except (ConfigError, FileNotFoundError) as err:
        cli.exit_on_config_error(ConfigError(str(err).splitlines()[0]))


if __name__ == "__main__":
    cli.run_script(main)
