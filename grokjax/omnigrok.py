"""The Omnigrok experiment scripts' shared parts (experiments/omnigrok_*.py): flags, the sweeps,
their files and figures.

Each script supplies a dataset, a model and a label; this module runs
  landscape:   reduced losses over (alpha x frac) at constant weight norm (Eq. 1, 3),
  dynamics:    ordinary training for alphas x weight decays (accuracy curves), plus a
               weight-decay scan at one alpha (steps to `threshold` vs wd, log-log slope),
  size_scan:   steps to `threshold` test accuracy against training-set size (Fig. 3e),
  constrained: ordinary training at constant weight norm (Fig. 9b),
each a run directory of the labelled set --workdir/sweeps/<part>/ (grokjax.train.run_dir.SweepSet:
checkpointed, resumable, with the live metrics stream), plus the part's PNGs and numbers there,
copying the PNGs to --figure_dir when given.
"""
from __future__ import annotations

import dataclasses
import os
import shutil
import time

import numpy as np
from absl import flags

from grokjax import cli
from grokjax.analysis.landscape import concat_grids, landscape_of, landscape_sweep, loglog_slope, steps_to
from grokjax.config import ConfigError, StaticConfig, validate_hparam, validate_static
from grokjax.errors import check_allowed, check_value
from grokjax.plotting import omnigrok as plots
from grokjax.train import run_dir
from grokjax.train.experiment import run_set_member
from grokjax.train.sweep import check_grid_fits, check_run_memory, make_grid

PARTS = ("landscape", "dynamics", "size_scan", "constrained")


def define_data_flags(name: str, sources: tuple[str, ...], default_source: str, stand_in: str, holds: str,
                      n_test: int, n_test_help: str) -> None:
    """The data flags every real-data Omnigrok script has: where the data comes from and how much."""
    from grokjax.data.mnist import DEFAULT_CACHE  # the shared cache root of all loaders

    flags.DEFINE_string("source", default_source,
                        f"data: {' | '.join(sources)} ({default_source} = {stand_in})")
    flags.DEFINE_string("data_dir", DEFAULT_CACHE, f"cache directory holding {holds}")
    flags.DEFINE_bool("download", False, f"download {name} into --data_dir (checks MD5 sums)")
    flags.DEFINE_integer("n_pool", 1000, "training pool size (frac is a fraction of it)")
    flags.DEFINE_integer("n_test", n_test, n_test_help)


# (define, name, default, help) of this module's flags; flags.txt lists them too.
_FLAGS = (
    (flags.DEFINE_list, "parts", ["landscape", "dynamics"], f"which sweeps to run: {', '.join(PARTS)}"),
    (flags.DEFINE_string, "landscape_alphas", "log:0.25:8:11", "alpha values of the reduced landscape"),
    (flags.DEFINE_string, "landscape_fracs", "1", "training fractions (of the training pool) of the landscape"),
    (flags.DEFINE_integer, "landscape_steps", 0, "steps per landscape run (0 = --steps)"),
    (flags.DEFINE_float, "landscape_lr", 0.0, "learning rate of the landscape runs (0 = --lr)"),
    (flags.DEFINE_string, "dyn_alphas", "0.5,2", "alphas of the accuracy-curve panels"),
    (flags.DEFINE_string, "dyn_wds", "0,0.03,1", "weight decays of the accuracy-curve panels"),
    (flags.DEFINE_float, "scan_alpha", 2.0, "alpha of the weight-decay scan"),
    (flags.DEFINE_list, "scan_fit_wds", [], "lo,hi: also fit the log-log slope over this wd range and draw it "
     "(empty = only the fit over every finite point)"),
    (flags.DEFINE_string, "scan_wds", "", "weight decays of the scan (empty = no scan)"),
    (flags.DEFINE_list, "scan_extend", [], "--workdirs of earlier runs whose finished weight-decay scans join this "
     "scan's fit and plot (same settings but for wd, run length and evaluation)"),
    (flags.DEFINE_string, "scan_fracs", "", "training fractions of the size scan (at --alpha, --wd)"),
    (flags.DEFINE_string, "constrained_alphas", "0.8", "alphas trained at constant weight norm (Fig. 9b)"),
    (flags.DEFINE_float, "threshold", 0.95, "accuracy that counts as fitted / generalized"),
    (flags.DEFINE_float, "pool_size", 0, "training pool size, to label fracs as example counts (0 = fracs)"),
    (flags.DEFINE_string, "figure_dir", "", "also copy the PNGs here (e.g. docs/figures/omnigrok)"),
    (flags.DEFINE_string, "figure_prefix", "", "file-name prefix of the copied PNGs"),
)


def define_flags() -> None:
    cli.define_flags()
    if "parts" in flags.FLAGS:
        return
    for define, name, default, text in _FLAGS:
        define(name, default, text)


def matmul_dtype() -> str:
    """--matmul_dtype, checked (one line and exit if not allowed): the scripts build their models with it."""
    from grokjax.models.base import make_einsum
    try:
        make_einsum(flags.FLAGS.matmul_dtype)
    except ConfigError as err:
        cli.exit_on_config_error(err)
    return flags.FLAGS.matmul_dtype


def _values(name: str) -> np.ndarray:
    return cli.parse_values(name, getattr(flags.FLAGS, name))


# The parts' value flags and the hyperparameter each one sets (an empty one is not used).
_VALUE_FLAGS = (("landscape_alphas", "alpha"), ("landscape_fracs", "frac"), ("dyn_alphas", "alpha"),
                ("dyn_wds", "wd"), ("scan_alpha", "alpha"), ("scan_wds", "wd"), ("scan_fracs", "frac"),
                ("constrained_alphas", "alpha"))


def _check_values(name: str, hparam: str, dataset=None) -> None:
    """--name parsed and each value allowed for `hparam` (and for `dataset`'s split if given): ConfigError
    naming both if not."""
    value = getattr(flags.FLAGS, name)
    values = _values(name) if isinstance(value, str) else [value]
    try:
        validate_hparam(hparam, values)
        if dataset is not None:
            check_grid_fits(make_grid(cli.base_hparams(), [(hparam, values)]), dataset)
    except ConfigError as err:
        if str(err).startswith(f"--{name}"):
            raise
        raise ConfigError(f"--{name}={getattr(flags.FLAGS, name)}: {err}") from None


def settings(activations: tuple[str, ...] | None = None):
    """The static config of the flags once every flag is checked, or one line and exit. Writes nothing:
    the scripts call it before they load data or build a model. `activations`: those of a script's own
    model, checked instead of the engine's."""
    F = flags.FLAGS
    try:
        cfg = cli.static_config()
        engine_cfg = cfg  # what the engine's checks see
        if activations is not None:
            check_allowed("activation", F.activation, activations)
            engine_cfg = dataclasses.replace(cfg, activation=StaticConfig.activation)
        validate_static(engine_cfg)
        unknown = [p for p in F.parts if p not in PARTS]
        if unknown:
            raise ConfigError(f"--parts={','.join(F.parts)}: unknown {unknown[0]}; allowed: {', '.join(PARTS)}")
        if "size_scan" in F.parts and not F.scan_fracs:
            raise ConfigError("--parts=size_scan needs --scan_fracs")
        if "dynamics" in F.parts and not (F.scan_wds or (F.dyn_alphas and F.dyn_wds)):
            raise ConfigError("--parts=dynamics needs --dyn_alphas and --dyn_wds (curve panels) or --scan_wds")
        if F.scan_extend and not ("dynamics" in F.parts and F.scan_wds):
            raise ConfigError("--scan_extend extends a weight-decay scan: it needs --parts=dynamics and --scan_wds")
        make_grid(cli.base_hparams())  # every hyperparameter allowed
        check_value("landscape_steps", F.landscape_steps, F.landscape_steps >= 0, "an integer >= 0 (0 = --steps)")
        validate_static(dataclasses.replace(engine_cfg, steps=F.landscape_steps or cfg.steps))
        for name, hparam in (*_VALUE_FLAGS, *([("landscape_lr", "lr")] if F.landscape_lr else [])):  # 0 = --lr
            if getattr(F, name) != "":
                _check_values(name, hparam)
        if F.scan_fit_wds and (len(F.scan_fit_wds) != 2 or not _is_range(F.scan_fit_wds)):
            raise ConfigError(f"--scan_fit_wds={','.join(F.scan_fit_wds)}: want two numbers lo,hi with lo < hi")
        check_value("threshold", F.threshold, 0 <= F.threshold <= 1, "an accuracy in [0, 1]")
        check_value("pool_size", F.pool_size, 0 <= F.pool_size < np.inf, "a number of examples >= 0 (0 = fracs)")
        cli.checkpoint_options(cfg)
        run_dir.check_writable_dir(F.workdir)  # the path; what it holds is checked by run_parts
    except ConfigError as err:
        cli.exit_on_config_error(err)
    return cfg


def load_data(loader, sources: tuple[str, ...], checked: dict | None = None, **kwargs):
    """The real-data scripts' dataset, `loader(--source, --n_pool, --n_test, --seed, --data_dir, --download,
    **kwargs)`, or one line and exit: a bad setting, or a data file that is missing, damaged or unreadable.
    `kwargs` and `checked` (the script's other size flags, name -> value) must be positive integers."""
    import struct
    import tarfile
    import zlib

    F = flags.FLAGS
    try:
        check_allowed("source", F.source, sources)
        check_value("n_pool", F.n_pool, F.n_pool >= 1, "a positive integer")
        check_value("n_test", F.n_test, F.n_test >= 0, "an integer >= 0")
        for name, value in {**kwargs, **(checked or {})}.items():
            check_value(name, value, value >= 1, "a positive integer")
        try:
            return loader(F.source, n_pool=F.n_pool, n_test=F.n_test, seed=F.seed, cache_dir=F.data_dir,
                          download=F.download, **kwargs)
        except (OSError, ValueError, EOFError, KeyError, UnicodeDecodeError, tarfile.TarError, zlib.error,
                struct.error) as err:
            reason = run_dir.first_line(err).rstrip(":")  # tarfile's first line ends with one
            raise ConfigError(f"--source={F.source} with --data_dir={F.data_dir}: {reason}") from None
    except ConfigError as err:
        cli.exit_on_config_error(err)


def _train_size() -> str:
    """The training-set size for a title where it is fixed (empty when it is the whole pool)."""
    F = flags.FLAGS
    if F.frac >= 1:
        return ""
    return f", N={F.frac * F.pool_size:g}" if F.pool_size else f", frac {F.frac:g}"


def _fit(x: np.ndarray, y: np.ndarray, lo: float = 0.0, hi: float = np.inf, label: str = "fit"):
    """The log-log fit of y over the finite points with lo <= x <= hi, as plot_time_vs draws it."""
    inside = (x >= lo) & (x <= hi)
    slope, intercept = loglog_slope(x[inside], y[inside])
    used = x[inside & np.isfinite(y) & (y > 0)]
    span = (used.min(), used.max()) if used.size else (np.nan, np.nan)
    return (f"{label}: slope {slope:.2f}", slope, intercept, *span)


def _publish(path: str) -> None:
    F = flags.FLAGS
    if F.figure_dir:
        os.makedirs(F.figure_dir, exist_ok=True)
        part = os.path.basename(os.path.dirname(path))
        shutil.copy(path, os.path.join(F.figure_dir, f"{F.figure_prefix}{part}_{os.path.basename(path)}"))


def _train(part: str, cfg, grid, axes, dataset, model, label: str):
    """One part's sweep, trained into --workdir/sweeps/<part>/ (resumes; a finished one is read back)."""
    F = flags.FLAGS
    result = run_set_member(F.workdir, part, cfg, grid, axes, dataset=dataset, model=model, plots=False,
                            extra={"dataset": dataset.name, "dataset_size": dataset.size, "label": label},
                            flags_text=cli.flags_text(_script_flags()), max_runs_per_batch=F.max_runs_per_batch,
                            progress=F.progress, checkpoint=cli.checkpoint_options(cfg), overwrite=F.overwrite,
                            tensorboard=F.tensorboard)
    return result, run_dir.SweepSet(F.workdir).path(part)


def _script_flags() -> tuple[str, ...]:
    """This module's flags and the script's own (data) flags, for flags.txt."""
    own = [n for n in ("source", "data_dir", "download", "n_pool", "n_test", "vocab_size", "seq_len", "embed",
                       "teacher_seed") if n in flags.FLAGS]
    return (*(name for _, name, _, _ in _FLAGS), *own)


def run_landscape(cfg, base, dataset, model, label: str) -> dict:
    F = flags.FLAGS
    lcfg = dataclasses.replace(cfg, steps=F.landscape_steps or cfg.steps)
    lbase = {**base, "lr": F.landscape_lr or base["lr"]}
    lcfg, grid = landscape_sweep(lcfg, lbase, _values("landscape_alphas"), _values("landscape_fracs"),
                                 seeds=F.seeds, seed=F.seed)
    result, workdir = _train("landscape", lcfg, grid, ["alpha", "frac"], dataset, model, label)
    land = landscape_of(result)
    run_dir.write_npz(os.path.join(workdir, "landscape.npz"), alphas=land.alphas, fracs=land.fracs,
                      **{f"reduced__{k}": v for k, v in land.metrics.items()})
    sizes = land.fracs * F.pool_size if F.pool_size else land.fracs
    size_name = "N" if F.pool_size else "frac"
    title = f"{label}: reduced landscape, constant norm, {lcfg.steps} steps, lr {lbase['lr']:g}"
    rows = {f"{size_name}={s:g}": (land.metrics["train_loss"][i], land.metrics["val_loss"][i])
            for i, s in enumerate(sizes)}
    run_dir.save_plot(os.path.join(workdir, "lu_loss.png"), plots.plot_lu, land.alphas, rows, title)
    rows = {f"{size_name}={s:g}": (land.error("train")[i], land.error("val")[i]) for i, s in enumerate(sizes)}
    run_dir.save_plot(os.path.join(workdir, "lu_error.png"), plots.plot_lu, land.alphas, rows, title,
                      ylabel="reduced error", log_y=False)
    outputs = ["lu_loss.png", "lu_error.png"]
    if len(land.fracs) > 1:
        run_dir.save_plot(os.path.join(workdir, "landscape_error.png"), plots.plot_landscape_heatmaps,
                          land.alphas, sizes,
                          {"reduced train error": land.error("train"),
                           "reduced test error": land.error("val")}, title,
                          size_label="training examples" if F.pool_size else "train fraction")
        outputs.append("landscape_error.png")
    for name in outputs:
        _publish(os.path.join(workdir, name))
    return {"alphas": land.alphas, "fracs": land.fracs, **land.metrics}


# What a scan joined by --scan_extend may set differently: how long it ran and how it was evaluated.
_SCAN_MAY_DIFFER = ("steps", "eval_every", "eval_schedule", "early_stop_val_acc")
_SCAN_FILE = "time_vs_wd.json"


def _earlier_scans(cfg, base: dict, dataset_name: str) -> list[dict]:
    """--scan_extend's finished scans (their time_vs_wd.json), each checked to be the same experiment as
    this one but for wd, run length and evaluation; ConfigError naming the differences if not."""
    F = flags.FLAGS
    # Compared as a resumed sweep is (run_dir.config_differences): a setting added since a scan was
    # saved counts as its default there; grid columns by their values, float32 as saved.
    not_compared = (*_SCAN_MAY_DIFFER, "wd", "model_seed", "data_seed")
    hparams = {**base, "alpha": F.scan_alpha}
    # enable_* are derived from the grid (features_for), which is compared itself.
    static = lambda settings: {k: v for k, v in settings.items()  # noqa: E731
                               if k not in not_compared and not k.startswith("enable_")}
    ours = {"static": static(dataclasses.asdict(cfg)),
            "grid": {k: [float(np.float32(v))] for k, v in hparams.items() if k not in not_compared},
            "dataset": dataset_name, "threshold": F.threshold}
    scans = []
    for workdir in F.scan_extend:
        path = run_dir.SweepSet(workdir).path("dynamics")
        config, report = run_dir.read_config(path), run_dir.read_json(path, _SCAN_FILE)
        where = f"--scan_extend={workdir}"
        if config is None or not isinstance(report, dict) or not {"wd", "steps_train", "steps_test", "threshold"} <= set(report):
            raise ConfigError(f"{where} holds no finished weight-decay scan with its threshold "
                              f"(sweeps/dynamics/{_SCAN_FILE}); rerun its command to rewrite it")
        theirs = {"static": static(config["static"]),
                  "grid": {k: v for k, v in config["grid"].items() if k not in not_compared},
                  "dataset": config.get("extra", {}).get("dataset"), "threshold": report["threshold"]}
        diff = run_dir.config_differences(theirs, ours)
        if diff:
            raise ConfigError(f"{where} is another experiment ({diff}); only wd, "
                              f"{', '.join(_SCAN_MAY_DIFFER)} may differ")
        scans.append(report)
    return scans


def run_dynamics(cfg, base, dataset, model, label: str) -> dict:
    F = flags.FLAGS
    # The scan's runs come first, its seeds side by side, so that --max_runs_per_batch=--seeds batches
    # one weight decay's seeds together and --early_stop_val_acc stops each as it groks. Empty
    # --dyn_alphas or --dyn_wds: no panels.
    scan_wds = _values("scan_wds") if F.scan_wds else np.zeros(0)
    grids = []
    if scan_wds.size:
        grids.append(make_grid(base, [("alpha", [F.scan_alpha]), ("wd", scan_wds)], seeds=F.seeds, seed=F.seed))
    panel_axes = [("alpha", _values("dyn_alphas")), ("wd", _values("dyn_wds"))] if F.dyn_alphas and F.dyn_wds else []
    if panel_axes:
        grids.append(make_grid(base, panel_axes, seed=F.seed))
    grid = concat_grids(*grids)
    result, workdir = _train("dynamics", cfg, grid, ["alpha", "wd"], dataset, model, label)
    n_scan = len(scan_wds) * F.seeds
    out = {"steps": result.steps, "grid": grid, "curves": result.curves}
    if panel_axes:
        panels = {f"alpha={grid['alpha'][i]:g}, wd={grid['wd'][i]:g}":
                  {"train": result.curves["train_acc"][i], "test": result.curves["val_acc"][i],
                   "weight_norm": result.curves["weight_norm"][i]} for i in range(n_scan, len(grid["alpha"]))}
        title = f"{label}: {cfg.optimizer} lr {base['lr']:g}, {cfg.steps} steps{_train_size()} (dashed: weight norm)"
        run_dir.save_plot(os.path.join(workdir, "curves.png"), plots.plot_accuracy_grid, result.steps, panels,
                          title, ncols=len(_values("dyn_wds")), extra="weight_norm")
        _publish(os.path.join(workdir, "curves.png"))
    if scan_wds.size:
        scan = slice(0, n_scan)
        times = steps_to({k: v[scan] for k, v in result.curves.items()}, result.steps, F.threshold)
        wd = grid["wd"][scan]
        own = {"wd": wd.tolist(), "steps_train": times["train"].tolist(), "steps_test": times["test"].tolist()}
        # --scan_extend: earlier scans' points join the fit and the plot (own points first).
        for earlier in _earlier_scans(cfg, base, dataset.name):
            wd = np.concatenate([wd, earlier["wd"]])
            times = {k: np.concatenate([times[k], earlier[f"steps_{k}"]]) for k in times}
        fits = [_fit(wd, times["test"], label="fit over every finite point" if F.scan_fit_wds else "fit")]
        # Only this run's own points: a later --scan_extend of this run must not count earlier ones twice.
        report = {**own, "threshold": F.threshold, "loglog_slope_test": fits[0][1]}
        if F.scan_extend:
            report.update(extended_by=list(F.scan_extend), wd_all=wd.tolist(), steps_test_all=times["test"].tolist())
        if F.scan_fit_wds:
            lo, hi = (float(v) for v in F.scan_fit_wds)
            fits.append(_fit(wd, times["test"], lo, hi, label=f"fit over wd {lo:g}-{hi:g}"))
            report.update(scan_fit_wds=[lo, hi], loglog_slope_test_in_range=fits[1][1])
        pct = f"{100 * F.threshold:g}%"
        run_dir.save_plot(os.path.join(workdir, "time_vs_wd.png"), plots.plot_time_vs, wd,
                          {f"train {pct}": times["train"], f"test {pct}": times["test"]},
                          f"{label}{_train_size()}: alpha={F.scan_alpha:g}; steps to {pct} accuracy",
                          "weight decay", fits=fits)
        _publish(os.path.join(workdir, "time_vs_wd.png"))
        run_dir.write_json(os.path.join(workdir, "time_vs_wd.json"), report)
        out.update(scan_wd=wd, scan_times=times, slope=fits[0][1])
        for name, slope, *_ in fits:
            print(f"steps to {pct} test accuracy vs wd, {name.split(':')[0]}: log-log slope {slope:.3f} "
                  "(LU mechanism: -1)")
    return out


def run_size_scan(cfg, base, dataset, model, label: str) -> dict:
    F = flags.FLAGS
    grid = make_grid(base, [("frac", _values("scan_fracs"))], seeds=F.seeds, seed=F.seed)
    result, workdir = _train("size_scan", cfg, grid, ["frac"], dataset, model, label)
    times = steps_to(result.curves, result.steps, F.threshold)
    sizes = grid["frac"] * F.pool_size if F.pool_size else grid["frac"]
    pct = f"{100 * F.threshold:g}%"
    run_dir.save_plot(os.path.join(workdir, "time_vs_size.png"), plots.plot_time_vs, sizes,
                      {f"train {pct}": times["train"], f"test {pct}": times["test"]},
                      f"{label}: alpha={base['alpha']:g}, wd={base['wd']:g}; steps to {pct} accuracy",
                      "training examples" if F.pool_size else "train fraction", log_x=False)
    _publish(os.path.join(workdir, "time_vs_size.png"))
    run_dir.write_json(os.path.join(workdir, "time_vs_size.json"),
                       {"size": sizes.tolist(), "steps_train": times["train"].tolist(),
                        "steps_test": times["test"].tolist(),
                        "final_val_acc": result.curves["val_acc"][:, -1].tolist()})
    return {"sizes": sizes, "times": times}


def run_constrained(cfg, base, dataset, model, label: str) -> dict:
    """Ordinary training except that the weight norm is held at its initial value (Fig. 9b)."""
    F = flags.FLAGS
    ccfg = dataclasses.replace(cfg, constrain_norm=True)
    grid = make_grid({**base, "wd": 0.0}, [("alpha", _values("constrained_alphas"))], seeds=F.seeds, seed=F.seed)
    result, workdir = _train("constrained", ccfg, grid, ["alpha"], dataset, model, label)
    panels = {f"alpha={grid['alpha'][i]:g}, constant norm, seed {grid['model_seed'][i]}":
              {"train": result.curves["train_acc"][i], "test": result.curves["val_acc"][i],
               "weight_norm": result.curves["weight_norm"][i]} for i in range(len(grid["alpha"]))}
    run_dir.save_plot(os.path.join(workdir, "curves.png"), plots.plot_accuracy_grid, result.steps, panels,
                      f"{label}{_train_size()}: constrained weight norm, lr {base['lr']:g}",
                      ncols=min(3, len(panels)),
                      extra="weight_norm")
    _publish(os.path.join(workdir, "curves.png"))
    times = steps_to(result.curves, result.steps, F.threshold)
    run_dir.write_json(os.path.join(workdir, "steps_to_threshold.json"),
                       {"alpha": grid["alpha"].tolist(), "steps_train": times["train"].tolist(),
                        "steps_test": times["test"].tolist()})
    return {"times": times}


def _is_range(values: list[str]) -> bool:
    try:
        lo, hi = (float(v) for v in values)
    except ValueError:
        return False
    return lo < hi


def run_parts(cfg, dataset, model, label: str) -> None:
    """Runs the --parts the user asked for; ConfigError -> one-line error."""
    F = flags.FLAGS
    base = cli.base_hparams()
    try:  # the flags: checked by settings(), which the scripts call first; here what the dataset allows
        one_run = make_grid(base)
        check_grid_fits(one_run, dataset)
        for part, name in (("landscape", "landscape_fracs"), ("size_scan", "scan_fracs")):
            if part in F.parts:
                _check_values(name, "frac", dataset)
        if F.scan_extend:
            _earlier_scans(cfg, base, dataset.name)
        # One run's memory, from the config and the model's abstract init, as phase_diagram.py.
        check_run_memory(cfg, one_run, dataset, F.memory_budget_gb, model)
        # The set's config.json: what every part shares (the static settings and the data); each part's
        # own sweep is checked (resume or refuse) in its run directory.
        # A resumed set's flags.txt is rewritten only once every part was accepted: a part saved with
        # other settings is refused below, and the directory must then be as it was.
        flags_text = cli.flags_text(_script_flags())
        resuming = run_dir.start(F.workdir, run_dir.sweep_set_config(cfg, {}, {"dataset": dataset.name,
                                                                                 "label": label}), overwrite=F.overwrite)
        if not resuming:
            run_dir.write_flags(F.workdir, flags_text)
    except ConfigError as err:
        cli.exit_on_config_error(err)
    runners = {"landscape": run_landscape, "dynamics": run_dynamics, "size_scan": run_size_scan,
               "constrained": run_constrained}
    for part in F.parts:
        start = time.time()
        try:
            runners[part](cfg, base, dataset, model, label)
        except ConfigError as err:  # e.g. a part saved with other settings: refused, one line
            cli.exit_on_config_error(err)
        print(f"{part}: {time.time() - start:.0f}s; results in {run_dir.SweepSet(F.workdir).path(part)}")
    if resuming:
        run_dir.write_flags(F.workdir, flags_text)
