"""Bad input, tried as a user would: every case is one `error:` line on stderr, a non-zero exit, no
traceback, and a directory left exactly as it was (names and checksums before and after).

The entry points run in this process (their main with argv, SystemExit caught, stderr captured):
a fresh process pays seconds of JAX import per case. Damaged files are real files of one tiny
sweep, truncated or overwritten in a copy.
"""
import contextlib
import hashlib
import importlib.util
import io
import os
import shutil
import subprocess
import sys

import pytest
from absl import flags

from conftest import subprocess_env

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--p=7", "--width=8", "--steps=20", "--eval_every=10", "--progress=false"]


_SCRIPTS: dict = {}  # name -> (main, its own flags: absl's name -> Flag table)


def _swap_flags(table: dict) -> dict:
    """Puts `table` in place of absl's registered flags; returns the table it replaced."""
    registry = flags.FLAGS._flags()
    saved = dict(registry)
    registry.clear()
    registry.update(table)
    return saved


def _absl_main(name: str, folder: str = "experiments"):
    """An absl script's main, run as cli.run_script runs it (flags parsed by parse_flags_or_exit), with
    only its own flags registered: the scripts define some names differently (--where, --out, --threshold,
    --source), so each is loaded, and run, with absl's own flags and nothing else."""
    from grokjax import cli

    if name not in _SCRIPTS:
        absl_own = {n: f for n, f in flags.FLAGS._flags().items()
                    if flags.FLAGS.find_module_defining_flag(n, "").startswith("absl.")}
        saved = _swap_flags(absl_own)
        try:
            path = os.path.join(REPO, folder, f"{name}.py")
            spec = importlib.util.spec_from_file_location(f"bad_input_{name}", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            _SCRIPTS[name] = module.main, dict(flags.FLAGS._flags())
        finally:
            _swap_flags(saved)
    main, own = _SCRIPTS[name]

    def run(argv):
        saved = _swap_flags(own)
        flags.FLAGS.unparse_flags()
        try:
            argv = cli.parse_flags_or_exit([name, *argv])
            return cli.stop_cleanly(main)(argv)
        finally:
            flags.FLAGS.unparse_flags()
            _swap_flags(saved)
    return run


def _module_main(name: str):
    import importlib
    return importlib.import_module(f"grokjax.{name}").main


EXPERIMENTS = {  # entry -> experiments/<name>.py
    "phase": "phase_diagram", "power": "power2022_figures", "doshi": "doshi2024_figures",
    "run_curves": "doshi2024_run_curves", "prune": "doshi2024_prune_width", "batchnorm": "doshi2024_batchnorm",
    "ipr": "doshi2024_embedding_ipr", "analytic": "doshi2024_analytic", "beyond": "beyond_figure",
    "modadd": "omnigrok_modadd", "mnist": "omnigrok_mnist", "imdb": "omnigrok_imdb", "qm9": "omnigrok_qm9",
    "teacher": "omnigrok_teacher_student", "repr": "omnigrok_representation"}
ENTRY = {"inspect": lambda: _module_main("inspect"), "merge": lambda: _module_main("merge"),
         "sweep": lambda: _absl_main("sweep", "launch"),
         **{entry: (lambda name=name: _absl_main(name)) for entry, name in EXPERIMENTS.items()}}


def call(entry: str, argv: list[str]) -> tuple[int, str]:
    """(exit code, stderr) of one entry point run in this process."""
    err, out = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            result = ENTRY[entry]()(argv)
            code = result if isinstance(result, int) else 0
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    return code, err.getvalue()


def snapshot(root: str) -> dict:
    """Every path under `root` with its checksum (None for a directory)."""
    state = {}
    for here, dirs, files in os.walk(root):
        for d in dirs:
            state[os.path.relpath(os.path.join(here, d), root)] = None
        for f in files:
            path = os.path.join(here, f)
            with open(path, "rb") as fh:
                state[os.path.relpath(path, root)] = hashlib.sha256(fh.read()).hexdigest()
    return state


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> str:
    """One tiny finished sweep (2 runs, p=7, 20 steps, snapshots at 0 and 20), never modified."""
    workdir = str(tmp_path_factory.mktemp("bad_input") / "good")
    code, err = call("phase", [*TINY, "--x_axis=wd", "--x_values=0,1", "--snapshot_steps=0,20", f"--workdir={workdir}"])
    assert code == 0, err
    return workdir


CHECKPOINT = os.path.join("checkpoints", "batch_000", "20", "default")
SNAPSHOT = os.path.join("snapshots", "batch_000", "step_00000020.npz")


def damage(root: str, rel: str, how: str) -> None:
    path = os.path.join(root, rel)
    if how == "truncate":
        with open(path, "rb") as f:
            data = f.read()
        with open(path, "wb") as f:
            f.write(data[:len(data) // 2])
    elif how == "garbage":
        with open(path, "wb") as f:
            f.write(b"not what it should be\x00\x01" * 8)
    elif how == "object":  # an npz whose array only pickle can read
        import numpy as np
        with open(path, "wb") as f:
            np.savez(f, steps=np.array([0, 10, 20]), val_acc=np.array([{"a": 1}], dtype=object))
    elif how == "nest":  # the sweep as the one member `rel` of a labelled set of sweeps (SweepSet)
        os.rename(root, root + ".member")
        os.makedirs(os.path.join(root, "sweeps"))
        os.rename(root + ".member", os.path.join(root, "sweeps", rel))
    elif how == "remove":
        shutil.rmtree(path)


W = "--workdir={w}"
FLAGFILE = "--flagfile={copy}/flags.txt"  # the good sweep's own flags: a resume of the damaged copy
MODADD = [*TINY, "--landscape_fracs=0.5"]  # frac 1 leaves modular addition no test set
REPR = ["--p=5", "--n_trains=10", "--width=8", "--steps=20", "--eval_every=10", "--progress=false"]
SHARDS = ["--num_shards=2", "--shard_index=0", "--x_axis=wd", "--x_values=0,1"]
# (id, entry point, argv, damage to a copy of the good sweep: [(path, how)], text the line must hold);
# {good}, {copy}, {w}, ... in argv and the text are the paths of _prepare
CASES = [
    # experiments/phase_diagram.py
    ("budget_nan", "phase", [*TINY, W, "--memory_budget_gb=nan"], None, "--memory_budget_gb=nan"),
    ("beta2_above_one", "phase", [*TINY, W, "--beta2=1.5"], None, "--beta2=1.5"),
    ("beta1_negative", "phase", [*TINY, W, "--beta1=-0.1"], None, "--beta1=-0.1"),
    ("y_axis_without_x_axis", "phase", [*TINY, W, "--y_axis=frac", "--y_values=0.5"], None, "needs --x_axis"),
    ("budget_inf", "phase", [*TINY, W, "--memory_budget_gb=inf"], None, "--memory_budget_gb=inf"),
    ("budget_negative", "phase", [*TINY, W, "--memory_budget_gb=-1"], None, "--memory_budget_gb=-1"),
    ("budget_below_one_run", "phase", [*TINY, W, "--memory_budget_gb=1e-6"], None,
     "more than --memory_budget_gb=1e-06"),
    ("p_huge", "phase", [*TINY, W, "--p=1000000"], None, "GiB"),
    ("p_enormous", "phase", [*TINY, W, "--p=3000000000"], None, "GiB"),
    ("width_huge", "phase", [*TINY, W, "--width=200000000"], None, "one run needs at least"),
    ("x_values_without_axis", "phase", [*TINY, W, "--x_values=1,2"], None, "needs --x_axis"),
    ("log_zero", "phase", [*TINY, W, "--x_axis=wd", "--x_values=log:0:1:3"], None, "start and stop > 0"),
    ("linspace_no_values", "phase", [*TINY, W, "--x_axis=wd", "--x_values=0:1:0"], None, "positive integer"),
    ("values_malformed", "phase", [*TINY, W, "--x_axis=wd", "--x_values=a:b"], None, "malformed"),
    ("workdir_proc", "phase", [*TINY, "--workdir=/proc/1"], None, "kernel filesystem"),
    ("workdir_is_file", "phase", [*TINY, "--workdir={file}"], None, "not a directory"),
    ("workdir_user_files", "phase", [*TINY, "--workdir={user}"], None, "already holds results"),
    ("shard_bad_keep", "phase", [*TINY, W, *SHARDS, "--keep_checkpoints=0"], None, "--keep_checkpoints=0"),
    ("shard_on_other_sweep", "phase", [*TINY, "--workdir={copy}", *SHARDS[:2], "--x_axis=wd",
                                       "--x_values=0,1,2,3"], [], "different configuration"),
    ("steps_too_many_points", "phase", [*TINY, W, "--steps=1000000000", "--eval_every=1"], None,
     "evaluation points"),
    ("seeds_too_many", "phase", [*TINY, W, "--seeds=1000000000"], None, "runs"),
    ("axis_too_many_values", "phase", [*TINY, W, "--x_axis=wd", "--x_values=0:1:1000000000"], None, "values"),
    ("seed_overflow", "phase", [*TINY, W, "--seed=2147483647", "--seeds=2"], None, "int32"),
    ("depth_huge", "phase", [*TINY, W, "--depth=1000000000"], None, "one run needs at least"),
    ("batch_size_huge", "phase", [*TINY, W, "--batch_size=100000000000"], None, "below 2^31"),
    ("flagfile_not_text", "phase", [*TINY, W, "--flagfile={good}/metrics.npz"], None, "cannot be read"),
    ("op_unknown", "phase", [*TINY, W, "--op=foo"], None, "--op=foo"),
    ("frac_one", "phase", [*TINY, W, "--frac=1"], None, "--frac=1"),
    ("seeds_zero", "phase", [*TINY, W, "--seeds=0"], None, "--seeds=0"),
    ("snapshot_steps_bad", "phase", [*TINY, W, "--snapshot_steps=log:0"], None, "--snapshot_steps"),
    ("snapshot_dtype_bad", "phase", [*TINY, W, "--snapshot_dtype=int8"], None, "--snapshot_dtype=int8"),
    ("stray_argument", "phase", [*TINY, W, "stray"], None, "unexpected arguments"),
    ("p_not_integer", "phase", [*TINY, W, "--p=abc"], None, "--p"),
    ("resume_truncated_checkpoint", "phase", [FLAGFILE, "--workdir={copy}", "--progress=false"],
     [(os.path.join(CHECKPOINT, "manifest.ocdbt"), "truncate")], "is damaged"),
    ("resume_progress_garbage", "phase", [FLAGFILE, "--workdir={copy}", "--progress=false"],
     [("progress.json", "garbage")], "progress.json is unreadable"),
    ("resume_layout_truncated", "phase", [FLAGFILE, "--workdir={copy}", "--progress=false"],
     [(os.path.join("checkpoints", "layout.json"), "truncate")], "layout.json is unreadable"),
    ("resume_corrupt_config", "phase", [FLAGFILE, "--workdir={copy}", "--progress=false"],
     [("config.json", "truncate")], "config.json"),
    # python -m grokjax.inspect
    ("where_no_match", "inspect", ["{good}", "--where=wd=7"], None, "matches no run; the sweep has wd: 0, 1"),
    ("where_unknown_name", "inspect", ["{good}", "--where=depth=1"], None, "names from"),
    ("run_out_of_range", "inspect", ["{good}", "--run=5"], None, "run 5 does not exist"),
    ("step_without_run", "inspect", ["{good}", "--step=20"], None, "need a run"),
    ("inspect_out_is_dir", "inspect", ["{good}", "--run=0", "--out={user}"], None, "is a directory"),
    ("inspect_out_proc", "inspect", ["{good}", "--run=0", "--out=/proc/1/params.npz"], None, "kernel filesystem"),
    ("inspect_missing_dir", "inspect", ["{w}"], None, "does not exist"),
    ("inspect_no_arguments", "inspect", [], None, "workdir"),
    ("inspect_config_garbage", "inspect", ["{copy}"], [("config.json", "garbage")], "config.json"),
    ("inspect_config_truncated", "inspect", ["{copy}"], [("config.json", "truncate")], "config.json"),
    ("inspect_metrics_garbage", "inspect", ["{copy}"], [("metrics.npz", "garbage")], "metrics.npz is damaged"),
    ("inspect_metrics_truncated", "inspect", ["{copy}"], [("metrics.npz", "truncate")], "metrics.npz is damaged"),
    ("inspect_metrics_object", "inspect", ["{copy}"], [("metrics.npz", "object")], "metrics.npz is damaged"),
    ("inspect_summary_truncated", "inspect", ["{copy}"], [("summary.csv", "truncate")], "summary.csv is damaged"),
    ("inspect_snapshot_truncated", "inspect", ["{copy}", "--run=0", "--step=20"], [(SNAPSHOT, "truncate")],
     "step_00000020.npz is damaged"),
    ("inspect_checkpoint_truncated", "inspect", ["{copy}", "--run=0"],
     [("snapshots", "remove"), (os.path.join(CHECKPOINT, "manifest.ocdbt"), "truncate")], "is damaged"),
    ("inspect_checkpoint_metadata", "inspect", ["{copy}", "--run=0"],
     [("snapshots", "remove"), (os.path.join(CHECKPOINT, "_METADATA"), "truncate")], "is damaged"),
    ("inspect_set_member_config", "inspect", ["{copy}"], [("main", "nest"), ("sweeps/main/config.json", "garbage")],
     "config.json"),
    ("inspect_progress_garbage", "inspect", ["{copy}"], [("progress.json", "garbage")], "progress.json"),
    # python -m grokjax.merge
    ("merge_out_is_file", "merge", ["--out={file}", "{good}"], None, "not a directory"),
    ("merge_out_sys", "merge", ["--out=/sys/merged", "{good}"], None, "kernel filesystem"),
    ("merge_out_other_sweep", "merge", ["--out={copy}", "{good}"], [], "not an earlier merge"),
    ("merge_out_user_files", "merge", ["--out={user}", "{good}"], None, "not an earlier merge"),
    ("merge_metrics_garbage", "merge", ["--out={w}", "{copy}"], [("metrics.npz", "garbage")], "is damaged"),
    ("merge_summary_garbage", "merge", ["--out={w}", "{copy}"], [("summary.csv", "garbage")], "is damaged"),
    ("merge_missing_dir", "merge", ["--out={w}", "{tmp}/nothing"], None, "no finished run directory"),
    ("merge_without_out", "merge", ["{good}"], None, "--out"),
    # experiments/power2022_figures.py
    ("power_figure_unknown", "power", [*TINY, W, "--figure=nope"], None, "--figure"),
    ("power_ops_unknown", "power", [*TINY, W, "--figure=operations", "--ops=foo"], None, "--ops=foo"),
    ("power_budget_nan", "power", [*TINY, W, "--memory_budget_gb=nan"], None, "--memory_budget_gb=nan"),
    ("power_p_huge", "power", [*TINY, W, "--p=1000000"], None, "GiB"),
    ("power_width_huge", "power", [*TINY, W, "--width=200000000"], None, "one run needs at least"),
    ("power_workdir_proc", "power", [*TINY, "--workdir=/proc/1"], None, "kernel filesystem"),
    ("power_workdir_user_files", "power", [*TINY, "--workdir={user}"], None, "already holds results"),
    # experiments/doshi2024_figures.py
    ("doshi_out_is_file", "doshi", ["--workdir={good}", "--out={file}"], None, "not a directory"),
    ("doshi_out_sys", "doshi", ["--workdir={good}", "--out=/sys/figures"], None, "kernel filesystem"),
    ("doshi_checkpoint_truncated", "doshi", ["--workdir={copy}", "--out={w}"],
     [("snapshots", "remove"), (os.path.join(CHECKPOINT, "manifest.ocdbt"), "truncate")], "is damaged"),
    ("doshi_snapshot_truncated", "doshi", ["--workdir={copy}", "--out={w}"], [(SNAPSHOT, "truncate")],
     "is damaged"),
    ("doshi_metrics_object", "doshi", ["--workdir={copy}", "--out={w}"], [("metrics.npz", "object")], "is damaged"),
    ("doshi_pruning_points", "doshi", ["--workdir={good}", "--out={w}", "--pruning_points=1"], None,
     "--pruning_points=1"),
    ("doshi_no_workdir", "doshi", ["--out={w}"], None, "--workdir is required"),
    # experiments/doshi2024_run_curves.py (its --out is checked by cli.parse_flags_or_exit, as every script's)
    ("run_curves_out_is_file", "run_curves", ["--workdir={good}", "--out={file}"], None, "not a directory"),
    ("run_curves_where_no_match", "run_curves", ["--workdir={good}", "--out={w}", "--where=wd=7"], None,
     "matches no run"),
    ("run_curves_metrics_garbage", "run_curves", ["--workdir={copy}", "--out={w}"], [("metrics.npz", "garbage")],
     "metrics.npz is damaged"),
    # launch/sweep.py (the same plan as phase_diagram.py, on one host or several)
    ("launch_budget_nan", "sweep", [*TINY, W, "--memory_budget_gb=nan"], None, "--memory_budget_gb=nan"),
    ("launch_workdir_proc", "sweep", [*TINY, "--workdir=/proc/1"], None, "kernel filesystem"),
    ("launch_shard_bad_keep", "sweep", [*TINY, W, *SHARDS, "--keep_checkpoints=0"], None, "--keep_checkpoints=0"),
    ("launch_log_zero", "sweep", [*TINY, W, "--x_axis=wd", "--x_values=log:0:1:3"], None, "start and stop > 0"),
    ("launch_workdir_user_files", "sweep", [*TINY, "--workdir={user}"], None, "already holds results"),
    ("launch_op_unknown", "sweep", [*TINY, W, "--op=foo"], None, "--op=foo"),
    ("launch_flagfile_missing", "sweep", [*TINY, W, "--flagfile={tmp}/missing.flags"], None, "cannot be read"),
    # experiments/doshi2024_run_curves.py
    ("run_curves_no_workdir", "run_curves", ["--out={w}"], None, "--workdir is required"),
    ("run_curves_missing_dir", "run_curves", ["--workdir={tmp}/nothing", "--out={w}"], None, "does not exist"),
    ("run_curves_where_malformed", "run_curves", ["--workdir={good}", "--out={w}", "--where=wd"], None, "--where"),
    ("run_curves_out_proc", "run_curves", ["--workdir={good}", "--out=/proc/1"], None, "kernel filesystem"),
    # experiments/doshi2024_prune_width.py
    ("prune_widths_zero", "prune", [*TINY, "--out={w}", "--widths=0"], None, "--widths=0"),
    ("prune_widths_malformed", "prune", [*TINY, "--out={w}", "--widths=a:b"], None, "--widths"),
    ("prune_widths_huge", "prune", [*TINY, "--out={w}", "--widths=8,200000000"], None, "one run needs at least"),
    ("prune_points_one", "prune", [*TINY, "--out={w}", "--pruning_points=1"], None, "--pruning_points=1"),
    ("prune_threshold_nan", "prune", [*TINY, "--out={w}", "--threshold=nan"], None, "--threshold=nan"),
    ("prune_seeds_zero", "prune", [*TINY, "--out={w}", "--seeds=0"], None, "--seeds=0"),
    ("prune_no_out", "prune", [*TINY], None, "--out is required"),
    ("prune_out_user_files", "prune", [*TINY, "--out={user}"], None, "--out={user} already holds results"),
    ("prune_out_proc", "prune", [*TINY, "--out=/proc/1"], None, "kernel filesystem"),
    ("prune_lr_negative", "prune", [*TINY, "--out={w}", "--lr=-1"], None, "--lr=-1"),
    # experiments/doshi2024_batchnorm.py
    ("batchnorm_no_workdir", "batchnorm", ["--out={w}"], None, "--bn_workdir is required"),
    ("batchnorm_not_batchnorm", "batchnorm", ["--bn_workdir={good}", "--out={w}"], None, "--norm=batchnorm"),
    ("batchnorm_run_out_of_range", "batchnorm", ["--bn_workdir={good}", "--out={w}", "--run=5"], None, "--run=5"),
    ("batchnorm_missing_dir", "batchnorm", ["--bn_workdir={tmp}/nothing", "--out={w}"], None, "does not exist"),
    ("batchnorm_snapshot_truncated", "batchnorm", ["--bn_workdir={copy}", "--out={w}"], [(SNAPSHOT, "truncate")],
     "is damaged"),
    ("batchnorm_out_is_file", "batchnorm", ["--bn_workdir={good}", "--out={file}"], None, "not a directory"),
    # experiments/doshi2024_embedding_ipr.py
    ("ipr_no_workdir", "ipr", ["--out={w}"], None, "--workdir is required"),
    ("ipr_workdir_is_file", "ipr", ["--workdir={file}", "--out={w}"], None, "not a directory"),
    ("ipr_compare_without_where", "ipr", ["--compare={good},{good}", "--out={w}"], None, "--where"),
    ("ipr_compare_where_no_match", "ipr", ["--compare={good}", "--where=wd=7", "--out={w}"], None, "matches no run"),
    ("ipr_compare_grids_malformed", "ipr", ["--compare_grids=foo", "--out={w}"], None, "--compare_grids"),
    ("ipr_snapshot_truncated", "ipr", ["--workdir={copy}", "--out={w}"], [(SNAPSHOT, "truncate")], "is damaged"),
    ("ipr_config_garbage", "ipr", ["--workdir={copy}", "--out={w}"], [("config.json", "garbage")], "config.json"),
    ("ipr_out_proc", "ipr", ["--workdir={good}", "--out=/proc/1"], None, "kernel filesystem"),
    # experiments/doshi2024_analytic.py
    ("analytic_primes_one", "analytic", ["--out={w}", "--primes=1"], None, "--primes=1"),
    ("analytic_widths_zero", "analytic", ["--out={w}", "--widths=0"], None, "--widths=0"),
    ("analytic_widths_log_zero", "analytic", ["--out={w}", "--widths=log:0:1:3"], None, "start and stop > 0"),
    ("analytic_solutions_zero", "analytic", ["--out={w}", "--solutions=0"], None, "--solutions=0"),
    ("analytic_widths_huge", "analytic", ["--out={w}", "--primes=97", "--widths=1000000000"], None, "GiB"),
    ("analytic_out_is_file", "analytic", ["--out={file}"], None, "not a directory"),
    # experiments/beyond_figure.py (writes into --workdir: a copy of the good sweep)
    ("beyond_no_workdir", "beyond", [], None, "--workdir is required"),
    ("beyond_missing_dir", "beyond", ["--workdir={w}"], None, "does not exist"),
    ("beyond_axis_unknown", "beyond", ["--workdir={copy}", "--axis=foo"], [], "--axis=foo"),
    ("beyond_metric_unknown", "beyond", ["--workdir={copy}", "--axis=wd", "--metrics=foo"], [], "--metrics=foo"),
    ("beyond_log_metric_not_drawn", "beyond", ["--workdir={copy}", "--axis=wd", "--log_metrics=val_loss"], [],
     "--log_metrics=val_loss"),
    ("beyond_metrics_garbage", "beyond", ["--workdir={copy}", "--axis=wd"], [("metrics.npz", "garbage")],
     "metrics.npz is damaged"),
    ("beyond_summary_truncated", "beyond", ["--workdir={copy}", "--axis=wd"], [("summary.csv", "truncate")],
     "summary.csv is damaged"),
    ("beyond_stray_argument", "beyond", ["--workdir={copy}", "stray"], [], "unexpected arguments"),
    # experiments/omnigrok_modadd.py
    ("omni_parts_unknown", "modadd", [*MODADD, W, "--parts=foo"], None, "--parts=foo"),
    ("omni_alphas_log_zero", "modadd", [*MODADD, W, "--landscape_alphas=log:0:8:11"], None, "start and stop > 0"),
    ("omni_dyn_alphas_negative", "modadd", [*MODADD, W, "--dyn_alphas=-1"], None, "--dyn_alphas=-1"),
    ("omni_scan_wds_negative", "modadd", [*MODADD, W, "--scan_wds=-1,1"], None, "--scan_wds=-1,1"),
    ("omni_scan_fit_wds_one", "modadd", [*MODADD, W, "--scan_fit_wds=1"], None, "--scan_fit_wds=1"),
    ("omni_landscape_lr_nan", "modadd", [*MODADD, W, "--landscape_lr=nan"], None, "--landscape_lr=nan"),
    ("omni_scan_alpha_zero", "modadd", [*MODADD, W, "--scan_alpha=0"], None, "--scan_alpha=0"),
    ("omni_threshold_nan", "modadd", [*MODADD, W, "--threshold=nan"], None, "--threshold=nan"),
    ("omni_landscape_steps_negative", "modadd", [*MODADD, W, "--landscape_steps=-5"], None, "--landscape_steps=-5"),
    ("omni_landscape_frac_one", "modadd", [*MODADD, W, "--landscape_fracs=0.5,1"], None,
     "--landscape_fracs=0.5,1: --frac=1 leaves no"),
    ("omni_size_scan_without_fracs", "modadd", [*MODADD, W, "--parts=size_scan"], None, "--scan_fracs"),
    ("omni_dynamics_without_runs", "modadd", [*MODADD, W, "--parts=dynamics", "--dyn_wds=", "--scan_wds="], None,
     "--parts=dynamics needs"),
    ("omni_scan_extend_without_scan", "modadd", [*MODADD, W, "--parts=landscape", "--scan_extend=runs/x"], None,
     "--scan_extend extends a weight-decay scan"),
    ("omni_scan_extend_not_a_scan", "modadd", [*MODADD, W, "--parts=dynamics", "--scan_wds=1",
                                               "--scan_extend=/nonexistent"], None, "holds no finished"),
    ("omni_width_huge", "modadd", [*MODADD, W, "--width=200000000"], None, "one run needs at least"),
    ("omni_no_workdir", "modadd", [*MODADD], None, "--workdir is required"),
    ("omni_workdir_proc", "modadd", [*MODADD, "--workdir=/proc/1"], None, "kernel filesystem"),
    ("omni_workdir_user_files", "modadd", [*MODADD, "--workdir={user}"], None, "already holds results"),
    ("omni_figure_dir_is_file", "modadd", [*MODADD, W, "--figure_dir={file}"], None, "not a directory"),
    ("omni_resume_config_garbage", "modadd", [*MODADD, "--workdir={copy}"], [("config.json", "garbage")],
     "config.json"),
    # experiments/omnigrok_mnist.py, omnigrok_imdb.py, omnigrok_qm9.py (real data from --data_dir)
    ("mnist_source_unknown", "mnist", [*TINY, W, "--source=foo"], None, "--source=foo"),
    ("mnist_missing_data_dir", "mnist", [*TINY, W, "--source=mnist", "--data_dir={tmp}/nothing"], None, "not in"),
    ("mnist_data_truncated", "mnist", [*TINY, W, "--source=mnist", "--data_dir={data}"], None, "--data_dir"),
    ("mnist_n_pool_zero", "mnist", [*TINY, W, "--n_pool=0"], None, "--n_pool=0"),
    ("mnist_n_test_negative", "mnist", [*TINY, W, "--n_test=-1"], None, "--n_test=-1"),
    ("mnist_activation_unknown", "mnist", [*TINY, W, "--activation=foo"], None, "--activation=foo"),
    ("mnist_threshold_above_one", "mnist", [*TINY, W, "--threshold=2"], None, "--threshold=2"),
    ("mnist_flagfile_missing", "mnist", [W, "--flagfile={tmp}/missing.flags"], None, "cannot be read"),
    ("mnist_width_huge", "mnist", [*TINY, W, "--width=200000000"], None, "one run needs at least"),
    ("imdb_width_huge", "imdb", [*TINY, W, "--width=200000000"], None, "one run needs at least"),
    ("qm9_width_huge", "qm9", [*TINY, W, "--width=200000000"], None, "one run needs at least"),
    ("teacher_width_huge", "teacher", [*TINY, W, "--width=200000000"], None, "--width=200000000 needs at least"),
    ("imdb_missing_archive", "imdb", [*TINY, W, "--source=imdb", "--data_dir={tmp}/nothing"], None, "not found"),
    ("imdb_archive_garbage", "imdb", [*TINY, W, "--source=imdb", "--data_dir={data}"], None, "--data_dir"),
    ("imdb_vocab_zero", "imdb", [*TINY, W, "--vocab_size=0"], None, "--vocab_size=0"),
    ("imdb_seq_len_negative", "imdb", [*TINY, W, "--seq_len=-1"], None, "--seq_len=-1"),
    ("imdb_embed_zero", "imdb", [*TINY, W, "--embed=0"], None, "--embed=0"),
    ("qm9_missing_archive", "qm9", [*TINY, W, "--source=qm9", "--data_dir={tmp}/nothing"], None, "not found"),
    ("qm9_archive_garbage", "qm9", [*TINY, W, "--source=qm9", "--data_dir={data}"], None, "--data_dir"),
    ("qm9_n_pool_negative", "qm9", [*TINY, W, "--n_pool=-5"], None, "--n_pool=-5"),
    ("qm9_steps_zero", "qm9", [*TINY, W, "--steps=0"], None, "--steps=0"),
    # experiments/omnigrok_teacher_student.py
    ("teacher_activation_unknown", "teacher", [*TINY, W, "--activation=foo"], None, "--activation=foo"),
    ("teacher_width_zero", "teacher", [*TINY, W, "--width=0"], None, "--width=0"),
    ("teacher_workdir_is_file", "teacher", [*TINY, "--workdir={file}"], None, "not a directory"),
    ("teacher_workdir_other_sweep", "teacher", [*TINY, "--workdir={copy}"], [], "different configuration"),
    ("teacher_parts_unknown", "teacher", [*TINY, W, "--parts=dynamics,foo"], None, "unknown foo"),
    # experiments/omnigrok_representation.py
    ("repr_messiness_above_one", "repr", [*REPR, W, "--messiness=0,2"], None, "--messiness"),
    ("repr_alphas_log_zero", "repr", [*REPR, W, "--alphas=log:0:4:9"], None, "start and stop > 0"),
    ("repr_traj_start_one_value", "repr", [*REPR, W, "--traj_start=1"], None, "--traj_start=1"),
    ("repr_traj_steps_zero", "repr", [*REPR, W, "--traj_steps=0"], None, "--traj_steps=0"),
    ("repr_traj_dt_nan", "repr", [*REPR, W, "--traj_dt=nan"], None, "--traj_dt=nan"),
    ("repr_p_huge", "repr", [*REPR, W, "--p=3000000000"], None, "GiB"),
    ("repr_d_out_zero", "repr", [*REPR, W, "--d_out=0"], None, "--d_out=0"),
    ("repr_workdir_user_files", "repr", [*REPR, "--workdir={user}"], None, "already holds results"),
    ("repr_workdir_proc", "repr", [*REPR, "--workdir=/proc/1"], None, "kernel filesystem"),
    ("repr_figure_dir_sys", "repr", [*REPR, W, "--figure_dir=/sys/figures"], None, "kernel filesystem"),
]


def _truncated_gzip() -> bytes:
    import gzip
    data = gzip.compress(bytes(range(256)) * 64)
    return data[:len(data) // 2]


DATA_FILES = {**{f"mnist/{stem}.gz": _truncated_gzip() for stem in (
    "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")},
    "imdb/aclImdb_v1.tar.gz": b"not an archive\n" * 8, "qm9/dsgdb9nsd.xyz.tar.bz2": b"not an archive\n" * 8}


def _prepare(tmp_path, good: str, damages) -> dict:
    paths = {"good": good, "tmp": str(tmp_path), "w": str(tmp_path / "new"), "file": str(tmp_path / "file.txt"),
             "user": str(tmp_path / "user"), "copy": str(tmp_path / "copy"), "data": str(tmp_path / "data")}
    with open(paths["file"], "w") as f:
        f.write("a user's file\n")
    os.makedirs(paths["user"])
    for name, text in (("summary.csv", "run,mine\n0,1\n"), ("notes.txt", "my notes\n")):
        with open(os.path.join(paths["user"], name), "w") as f:
            f.write(text)
    for rel, data in DATA_FILES.items():  # --data_dir of the real-data loaders: damaged files
        os.makedirs(os.path.dirname(os.path.join(paths["data"], rel)), exist_ok=True)
        with open(os.path.join(paths["data"], rel), "wb") as f:
            f.write(data)
    if damages is not None:
        shutil.copytree(good, paths["copy"])
        for rel, how in damages:
            damage(paths["copy"], rel, how)
    return paths


def assert_one_line(code: int, stderr: str, needle: str) -> None:
    lines = error_lines(stderr)
    assert code != 0, stderr
    assert "Traceback" not in stderr and len(lines) == 1, stderr
    assert lines[0].startswith("error: ") and needle in lines[0], lines[0]


@pytest.mark.parametrize("name,entry,argv,damages,needle", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_writes_nothing(good, tmp_path, name, entry, argv, damages, needle):
    paths = _prepare(tmp_path, good, damages)
    before = snapshot(str(tmp_path)), snapshot(good)
    code, stderr = call(entry, [a.format(**paths) for a in argv])
    assert_one_line(code, stderr, needle.format(**paths))
    assert (snapshot(str(tmp_path)), snapshot(good)) == before


def test_cases_cover_every_entry_point():
    scripts = {name[:-3] for name in os.listdir(os.path.join(REPO, "experiments")) if name.endswith(".py")}
    assert len(CASES) >= 150 and {c[1] for c in CASES} == set(ENTRY) and set(EXPERIMENTS.values()) == scripts


def _subprocess(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300, cwd=REPO,
                          env=subprocess_env(PYTHONPATH=REPO))


def test_missing_flagfile_in_a_fresh_process(tmp_path):
    """absl reads flagfiles while parsing argv, before main: the script's own parse_flags_or_exit."""
    proc = _subprocess(["experiments/phase_diagram.py", f"--flagfile={tmp_path}/missing.flags",
                        f"--workdir={tmp_path}/w"])
    assert_one_line(proc.returncode, proc.stderr, f"--flagfile={tmp_path}/missing.flags cannot be read "
                                                  "(No such file or directory)")
    assert os.listdir(tmp_path) == []


def test_damaged_checkpoint_in_a_fresh_process_has_no_event_loop_noise(good, tmp_path):
    """Orbax's reads still in flight after a failed restore print 'Event loop is closed' tracebacks from
    background threads, up to interpreter exit: only a whole process shows them."""
    paths = _prepare(tmp_path, good, [("snapshots", "remove"),
                                      (os.path.join(CHECKPOINT, "manifest.ocdbt"), "truncate")])
    before = snapshot(str(tmp_path))
    proc = _subprocess(["experiments/phase_diagram.py", f"--flagfile={paths['copy']}/flags.txt",
                        f"--workdir={paths['copy']}", "--progress=false"])
    assert_one_line(proc.returncode, proc.stderr, "is damaged")
    assert "Event loop is closed" not in proc.stderr and proc.stderr.rstrip().endswith("to start over")
    assert snapshot(str(tmp_path)) == before
