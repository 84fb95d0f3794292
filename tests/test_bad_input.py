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


def _script(name: str, folder: str = "experiments"):
    """<folder>/<name>.py as the module `name`, shared with other tests that import it (a script's
    flags can be defined only once per process)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, os.path.join(REPO, folder, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_SCRIPTS: dict = {}


def _absl_main(name: str, folder: str = "experiments"):
    """An absl script's main, run as cli.run_script runs it: flags parsed by parse_flags_or_exit."""
    from grokjax import cli

    if name not in _SCRIPTS:
        _SCRIPTS[name] = _script(name, folder)
    main = _SCRIPTS[name].main

    def run(argv):
        flags.FLAGS.unparse_flags()
        try:
            argv = cli.parse_flags_or_exit([name, *argv])
            return cli.stop_cleanly(main)(argv)
        finally:
            flags.FLAGS.unparse_flags()
    return run


def _module_main(name: str):
    import importlib
    return importlib.import_module(f"grokjax.{name}").main


ENTRY = {"phase": lambda: _absl_main("phase_diagram"), "power": lambda: _absl_main("power2022_figures"),
         "doshi": lambda: _absl_main("doshi2024_figures"), "run_curves": lambda: _absl_main("doshi2024_run_curves"),
         "sweep": lambda: _absl_main("sweep", "launch"), "inspect": lambda: _module_main("inspect"),
         "merge": lambda: _module_main("merge")}


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
SHARDS = ["--num_shards=2", "--shard_index=0", "--x_axis=wd", "--x_values=0,1"]
# (id, entry point, argv, damage to a copy of the good sweep: [(path, how)], text the line must hold)
CASES = [
    # experiments/phase_diagram.py
    ("budget_nan", "phase", [*TINY, W, "--memory_budget_gb=nan"], None, "--memory_budget_gb=nan"),
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
]


def _prepare(tmp_path, good: str, damages) -> dict:
    paths = {"good": good, "tmp": str(tmp_path), "w": str(tmp_path / "new"), "file": str(tmp_path / "file.txt"),
             "user": str(tmp_path / "user"), "copy": str(tmp_path / "copy")}
    with open(paths["file"], "w") as f:
        f.write("a user's file\n")
    os.makedirs(paths["user"])
    for name, text in (("summary.csv", "run,mine\n0,1\n"), ("notes.txt", "my notes\n")):
        with open(os.path.join(paths["user"], name), "w") as f:
            f.write(text)
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
    assert_one_line(code, stderr, needle)
    assert (snapshot(str(tmp_path)), snapshot(good)) == before


def test_cases_cover_every_entry_point():
    assert len(CASES) >= 40 and {c[1] for c in CASES} == set(ENTRY)


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
