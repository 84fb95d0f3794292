"""experiments/power2022_figures.py: every figure end to end at a tiny size, plus its helpers."""
import json
import os
import sys

import numpy as np
import pandas as pd
import pytest
from absl import flags

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "experiments"))

import power2022_figures as p22  # noqa: E402

from grokjax.train.summary import first_step_reaching  # noqa: E402

TINY = ["--model=transformer", "--width=8", "--heads=2", "--depth=1", "--activation=relu", "--norm=layernorm",
        "--loss=ce", "--optimizer=adamw", "--lr=3e-3", "--batch_size=8", "--batch_rule=power", "--p=7",
        "--steps=4", "--eval_every=2", "--progress=false"]


def run_figure(workdir, *args):
    """Runs the script's main in-process (shares the compile cache); returns figure.json."""
    flags.FLAGS.unparse_flags()
    flags.FLAGS(["power2022_figures", *TINY, *args, f"--workdir={workdir}"])
    try:
        p22.main(["power2022_figures"])
    finally:
        flags.FLAGS.unparse_flags()
    with open(os.path.join(workdir, "figure.json")) as f:
        return json.load(f)


def test_grokking_figure_writes_curves_and_double_descent_columns(tmp_path):
    # Every end-to-end test trains op=add, p=7 with two runs: one compiled program, cached.
    report = run_figure(tmp_path, "--figure=grokking", "--op=add", "--frac=0.5", "--x_axis=wd", "--x_values=0,1")
    assert (tmp_path / "grokking.png").stat().st_size > 0
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert {"val_loss_peak", "val_loss_second_min", "step_val_acc_99", "group"} <= set(summary.columns)
    assert [r["frac"] for r in report["runs"]] == [0.5, 0.5] and list(summary["wd"]) == [0, 1]
    metrics = np.load(tmp_path / "metrics.npz")
    assert list(metrics["steps"]) == [0, 2, 4]


def test_learning_time_and_resume(tmp_path):
    args = ["--figure=learning_time", "--op=add", "--x_axis=frac", "--x_values=0.4,0.8"]
    report = run_figure(tmp_path, *args)
    assert (tmp_path / "learning_time.png").stat().st_size > 0
    assert report["medians"][0]["frac"] == pytest.approx([0.4, 0.8])
    before = (tmp_path / "sweeps" / "main" / "metrics.npz").stat().st_mtime_ns
    run_figure(tmp_path, *args)  # same command again: the finished sweep is reused, not retrained
    assert (tmp_path / "sweeps" / "main" / "metrics.npz").stat().st_mtime_ns == before


def test_optimizer_variants_share_a_sweep_unless_static_settings_differ():
    flags.FLAGS.unparse_flags()
    flags.FLAGS(["power2022_figures", *TINY])
    try:
        cfg = p22.cli.static_config()
        sweeps = p22.build_sweeps("optimizers", cfg, {**p22.cli.base_hparams(), "lr": 1e-3},
                                  [("frac", [0.3, 0.6])], seeds=2, seed=0, data_seed=None)
    finally:
        flags.FLAGS.unparse_flags()
    assert [len(s.groups) for s in sweeps] == [2 * 2 * 2, 6 * 2 * 2, 1 * 2 * 2]
    full, traced, to_init = sweeps
    assert [s.label for s in sweeps] == ["batch_rule-fixed_batch_size-0", "minibatch", "adamw_wd_1_to_init"]
    assert full.cfg.batch_size == 0 and traced.cfg.batch_size == 8 and to_init.cfg.decay_to == "init"
    assert set(full.groups) == {"full_batch_adam", "full_batch_adam_update_noise"}
    hp = {g: {k: traced.grid[k][list(traced.groups).index(g)] for k in ("lr", "wd", "dropout", "weight_noise")}
          for g in set(traced.groups)}
    assert hp["adam_lr_x3"]["lr"] == pytest.approx(3e-3) and hp["adam_lr_x0.3"]["lr"] == pytest.approx(3e-4)
    assert hp["adam"]["wd"] == 0 and hp["adamw_wd_1"]["wd"] == 1 and hp["adam_dropout_0.1"]["dropout"] == \
        pytest.approx(0.1) and hp["adam_weight_noise_0.01"]["weight_noise"] == pytest.approx(0.01)
    assert full.grid["grad_noise"][list(full.groups).index("full_batch_adam_update_noise")] == 1.0


def sweeps_of_flagfile(name):
    """The sweeps an experiments/flags/ flagfile describes (validated, nothing trained)."""
    flags.FLAGS.unparse_flags()
    flags.FLAGS(["power2022_figures", f"--flagfile={os.path.join(REPO, 'experiments', 'flags', name)}"])
    try:
        cfg, axes = p22.cli.config_and_axes()
        sweeps = p22.build_sweeps(flags.FLAGS.figure, cfg, p22.cli.base_hparams(), axes, flags.FLAGS.seeds,
                                  flags.FLAGS.seed, None)
        for sweep in sweeps:
            p22.validate_static(sweep.cfg)
        return flags.FLAGS.figure, sweeps
    finally:
        flags.FLAGS.unparse_flags()


@pytest.mark.parametrize("name", sorted(f for f in os.listdir(os.path.join(REPO, "experiments", "flags"))
                                        if f.startswith("power2022_")))
def test_every_power2022_flagfile_builds_valid_sweeps(name):
    figure, sweeps = sweeps_of_flagfile(name)
    assert sweeps and all(len(s.groups) == len(s.grid["frac"]) > 0 for s in sweeps)
    if name == "power2022_fig2_left_cpu.flags":  # all nine variants, in the three sweeps they need
        runs_per_variant = len(sweeps[0].grid["frac"]) // len(set(sweeps[0].groups))
        groups = np.concatenate([s.groups for s in sweeps])
        assert sorted(groups) == sorted(np.repeat(list(p22.VARIANTS), runs_per_variant)) and len(sweeps) == 3
    if name == "power2022_fig2_right_cpu.flags":  # every operation of A.1.1
        assert sorted(s.cfg.op for s in sweeps) == sorted(op for op in p22.operation_names() if op != "mul")
    if figure == "sharpness":  # A.5: initialization seeds on one split
        assert len(set(sweeps[0].grid["data_seed"])) == 1 and len(set(sweeps[0].grid["model_seed"])) >= 16


def test_optimizers_figure_end_to_end(tmp_path):
    report = run_figure(tmp_path, "--figure=optimizers", "--op=add", "--frac=0.5", "--variants=adam,adamw_wd_1")
    assert sorted(os.listdir(tmp_path / "sweeps")) == ["minibatch"]
    assert set(report["best_val_acc_mean"]) == {"adam", "adamw_wd_1"}
    assert (tmp_path / "optimizers.png").stat().st_size > 0


def test_operations_outliers_and_embeddings_figures(tmp_path):
    ops = run_figure(tmp_path / "ops", "--figure=operations", "--ops=add", "--x_axis=frac", "--x_values=0.4,0.8")
    assert set(ops["best_val_acc_mean"]) == {"add"}
    out = run_figure(tmp_path / "out", "--figure=outliers", "--op=add", "--frac=0.6", "--x_axis=outliers",
                     "--x_values=0,3")
    assert set(out["best_val_acc_mean"]) == {"k=0", "k=3"}
    # Two seeds: the add sweep then reuses the compiled two-run program (the figure shows seed 0).
    emb = run_figure(tmp_path / "emb", "--figure=embeddings", "--embedding_ops=s5_mul,add", "--frac=0.5",
                     "--tsne_perplexity=5", "--seeds=2")
    assert [r["op"] for r in emb["runs"]] == ["s5_mul", "add"]
    assert 0 <= emb["runs"][0]["left_coset_nn_rows"] <= 1
    assert (tmp_path / "emb" / "embeddings.png").stat().st_size > 0


def test_sharpness_figure_reports_spearman(tmp_path):
    report = run_figure(tmp_path, "--figure=sharpness", "--op=add", "--frac=0.5", "--seeds=2",
                        "--sharpness_steps=4")
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert np.all(summary["phi"] >= 0) and len(summary) == 2
    assert len(set(summary["data_seed"])) == 1 and len(set(summary["model_seed"])) == 2
    assert -1 <= report["spearman_rho"] <= 1 or np.isnan(report["spearman_rho"])
    assert (tmp_path / "sharpness.png").stat().st_size > 0


def test_titles_name_p_only_for_modular_operations():
    # An S5 table is the 120 x 120 group table whatever p is: its titles must not say "p=23".
    s5 = p22.StaticConfig(op="s5_mul", p=23, width=64)
    assert p22.task_name(s5) == "s5_mul (S5)" and "p=" not in p22.describe(s5)
    assert p22.task_name(p22.StaticConfig(op="add", p=23)) == "add p=23"


def test_steps_to_threshold_on_synthetic_curves():
    steps = np.array([0, 10, 20, 40, 80])
    curves = np.array([[0.0, 0.5, 0.99, 1.0, 1.0],  # reaches 99% exactly at step 20
                       [0.0, 0.2, 0.4, 0.98, 0.985],  # never
                       [1.0, 1.0, 1.0, 1.0, 1.0],  # from the start
                       [0.0, 0.995, 0.1, np.nan, np.nan]])  # first time counts; NaN after a stop
    out = first_step_reaching(curves, steps, 0.99)
    np.testing.assert_array_equal(out[[0, 2, 3]], [20, 0, 10])
    assert np.isnan(out[1])


def test_median_counts_runs_that_never_reached_as_late():
    from grokjax.plotting.power import median_by
    frac = np.array([0.3, 0.3, 0.3, 0.5, 0.5, 0.5])
    steps = np.array([100, np.nan, np.nan, 10, 30, np.nan])
    xs, med, reached = median_by(frac, steps)
    assert np.isnan(med[0]) and med[1] == 30
    np.testing.assert_allclose(reached, [1 / 3, 2 / 3])


def test_val_loss_double_descent_on_a_synthetic_curve():
    curve = np.array([4.0, 2.0, 1.5, 3.0, 6.0, 5.0, 1.0, 0.2, np.nan])
    dd = p22.val_loss_double_descent(curve)
    assert dd["val_loss_first_min"] == 1.5 and dd["val_loss_peak"] == 6.0 and dd["val_loss_second_min"] == 0.2
    assert dd["val_loss_peak_index"] == 4


def test_unknown_variant_is_one_line_error(tmp_path, capsys):
    with pytest.raises(SystemExit):
        run_figure(tmp_path, "--figure=optimizers", "--variants=sgd_magic")
    assert "error: --variants=sgd_magic is unknown" in capsys.readouterr().err
