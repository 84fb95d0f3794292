"""Doshi et al. (2024): the analytic solution, Table 2 phases, and the experiments end to end (tiny)."""
import importlib.util
import json
import os

import numpy as np
import pytest

from grokjax.analysis.analytic import amplitude, analytic_accuracy, analytic_params, mlp_outputs
from grokjax.analysis.phases import classify_phase
from grokjax.config import ConfigError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_analytic_solution_classifies_every_pair_and_outputs_one_hot():
    p, width = 11, 400
    assert amplitude(width) ** 3 == pytest.approx(2 / width)
    assert analytic_accuracy(p, width, seed=0) == 1.0
    m, n = np.divmod(np.arange(p * p), p)
    out = mlp_outputs(analytic_params(p, width, seed=1), m, n)
    target = (m + n) % p
    correct = out[np.arange(p * p), target]
    others = np.where(np.arange(p)[None, :] == target[:, None], np.nan, out)
    # Appendix D: f_q(m, n) ~ delta(m + n - q) up to O(1/sqrt(N)) and a 1/p offset (frequency 0).
    assert np.mean(correct) == pytest.approx(1.0, abs=0.1)
    assert abs(np.nanmean(others)) < 0.15


def test_analytic_solution_needs_width():
    assert analytic_accuracy(31, 10, seed=0) < 0.6 < analytic_accuracy(31, 200, seed=0)


def test_table2_phases_on_hand_made_accuracies():
    train = np.array([0.99, 0.80, 0.66, 0.99, 0.30, 0.30, 0.95])
    test = np.array([0.99, 0.97, 0.99, 0.05, 0.02, 0.02, 0.92])
    xi = np.array([0.35, 0.35, 0.35, 0.35, 0.35, 0.35, 0.10])
    best = np.array([1.0, 1.0, 1.0, 0.05, 1.0, 0.3, 0.95])
    np.testing.assert_array_equal(
        classify_phase(train, test, xi, best),
        ["coexistence", "partial_inversion", "full_inversion", "memorization", "forgetting", "confusion",
         "coexistence"])
    # xi = 0.1: 1.05 - xi > 0.9, so a generalizing run below 90% train is full inversion.
    assert classify_phase(0.85, 0.99, 0.1) == "full_inversion"


def test_phases_follow_doshi_table_2():
    train = [0.95, 0.80, 0.60, 0.95, 0.30, 0.30]
    test = [0.95, 0.95, 0.95, 0.10, 0.10, 0.10]
    best = [0.95, 0.95, 0.95, 0.10, 0.99, 0.20]
    xi = 0.35  # partial inversion needs train >= 1.05 - xi = 0.70
    assert list(classify_phase(train, test, xi, best)) == [
        "coexistence", "partial_inversion", "full_inversion", "memorization", "forgetting", "confusion"]
    assert classify_phase(np.nan, 0.5, 0.1) == "diverged"


def _load_script(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "experiments", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_figures_end_to_end_tiny(tmp_path, tiny_cfg):
    from grokjax.checkpoint.store import CheckpointOptions
    from grokjax.train.experiment import run_grid_experiment
    from grokjax.train.sweep import make_grid

    grid = make_grid({"frac": 0.6, "xi": 0.3}, [("wd", [0.0, 5.0])])
    run_dir = str(tmp_path / "run")
    # One run per batch: the same compiled shapes as the other tiny tests (persistent compile cache).
    run_grid_experiment(tiny_cfg, grid, run_dir, ["wd"], max_runs_per_batch=1, progress=False,
                        checkpoint=CheckpointOptions(snapshot_steps=(0, 20, 60)))
    out = str(tmp_path / "fig")
    numbers = _load_script("doshi2024_figures").make_figures(run_dir, out, "t", pruning_points=3)
    for name in ("fig1_curves", "fig2_ipr_time", "fig4_ipr_hist", "fig17_pruning_acc", "fig18_pruning_loss",
                 "fig8_forgetting", "fig23_logits"):
        assert os.path.getsize(os.path.join(out, f"t_{name}.png")) > 1000
    assert len(numbers["runs"]) == 2
    for run in numbers["runs"]:
        assert 0 < run["mean_ipr_final"] <= 1 and set(run["mean_ipr_over_time"]) == {"0", "20", "60"}
    with open(os.path.join(out, "t_numbers.json")) as f:
        assert json.load(f)["runs"][1]["wd"] == 5.0

    # Figures 19-22 from the same sweep's recorded curves (no snapshots needed): the run picked by
    # --where, its final values and the peak of its corrupted-label accuracy as metrics.npz has them.
    run_curves = _load_script("doshi2024_run_curves").run_curves
    picked = run_curves(run_dir, ["wd=5"], out, "c")["runs"]
    with np.load(os.path.join(run_dir, "metrics.npz")) as m:
        assert [r["run"] for r in picked] == [1] and picked[0]["wd"] == 5.0
        assert picked[0]["final_val_acc"] == pytest.approx(m["val_acc"][1, -1])
        assert picked[0]["peak_train_corrupt_acc"] == pytest.approx(m["train_corrupt_acc"][1].max())
        assert picked[0]["step_peak_train_corrupt_acc"] == m["steps"][m["train_corrupt_acc"][1].argmax()]
    assert os.path.getsize(os.path.join(out, "c_run_curves.png")) > 1000
    assert len(run_curves(run_dir, [], out, "all")["runs"]) == 2
    with pytest.raises(ConfigError, match="--where=wd=7 matches no run; the sweep has wd: 0, 5"):
        run_curves(run_dir, ["wd=7"], out, "none")


def test_figures_from_the_final_checkpoint_without_snapshots(tmp_path, tiny_cfg):
    from grokjax.analysis import ipr as ipr_lib
    from grokjax.inspect import load_run
    from grokjax.train.experiment import run_grid_experiment
    from grokjax.train.sweep import make_grid

    grid = make_grid({"frac": 0.6, "xi": 0.3}, [("dropout", [0.0, 0.5])])
    run_dir = str(tmp_path / "run")
    run_grid_experiment(tiny_cfg, grid, run_dir, ["dropout"], max_runs_per_batch=1, progress=False)
    out = str(tmp_path / "fig")
    numbers = _load_script("doshi2024_figures").make_figures(run_dir, out, "t", pruning_points=3)
    assert os.path.getsize(os.path.join(out, "t_fig4_ipr_hist.png")) > 1000
    assert not os.path.exists(os.path.join(out, "t_fig2_ipr_time.png"))  # IPR over time needs snapshots
    _, params, _ = load_run(run_dir, 1)  # run 1's final checkpoint, read independently
    expected = np.nanmean(ipr_lib.neuron_ipr(params)["neuron"])
    assert numbers["runs"][1]["mean_ipr_final"] == pytest.approx(float(expected), rel=1e-5)
    assert list(numbers["runs"][1]["mean_ipr_over_time"]) == [str(tiny_cfg.steps)]


def test_analytic_script(tmp_path):
    numbers = _load_script("doshi2024_analytic").analytic_experiment([11], [5, 200], 1, str(tmp_path))
    assert numbers["accuracy"]["11"][1] == 1.0 and numbers["ipr_min"] > 0.999
    assert os.path.getsize(tmp_path / "analytic_accuracy_ipr.png") > 1000


def test_doshi_flagfiles_are_valid():
    import dataclasses
    import glob

    from grokjax import cli
    from grokjax.config import HPARAMS, StaticConfig, validate_hparam, validate_static

    fields = {f.name: f for f in dataclasses.fields(StaticConfig)}
    known = set(fields) | set(HPARAMS) | set(cli.SWEEP_FLAGS) | set(cli.CHECKPOINT_FLAGS)
    paths = sorted(glob.glob(os.path.join(ROOT, "experiments", "flags", "doshi2024_*.flags")))
    assert len(paths) >= 10
    for path in paths:
        values = dict(line[2:].split("=", 1) for line in open(path).read().splitlines()
                      if line.startswith("--"))
        assert set(values) <= known, (path, set(values) - known)
        static = {k: type(fields[k].default)(v) if not isinstance(fields[k].default, bool) else v == "true"
                  for k, v in values.items() if k in fields}
        validate_static(StaticConfig(**static))
        for name in set(values) & set(HPARAMS):
            validate_hparam(name, float(values[name]))
        for axis in ("x", "y"):
            if f"{axis}_values" in values:
                validate_hparam(values[f"{axis}_axis"], cli.parse_values(axis, values[f"{axis}_values"]))


def test_batchnorm_experiment_tiny(tmp_path, tiny_cfg):
    import dataclasses

    from grokjax.checkpoint.store import CheckpointOptions
    from grokjax.train.experiment import run_grid_experiment
    from grokjax.train.sweep import make_grid

    run_dir = str(tmp_path / "bn")
    cfg = dataclasses.replace(tiny_cfg, norm="batchnorm", batch_size=16, steps=20, eval_every=20)
    run_grid_experiment(cfg, make_grid({"frac": 0.6, "xi": 0.2}), run_dir, [], progress=False,
                        checkpoint=CheckpointOptions(snapshot_steps=(20,)))
    # The same directory stands in for the no-norm network (only its IPR histogram is drawn).
    numbers = _load_script("doshi2024_batchnorm").batchnorm_experiment(run_dir, run_dir, str(tmp_path / "fig"))
    assert -1 <= numbers["pearson_ipr_gamma"] <= 1 and 0 < numbers["mean_ipr_bn"] <= 1
    assert os.path.getsize(tmp_path / "fig" / "fig5_batchnorm.png") > 1000


def test_batchnorm_layers_pair_each_norm_with_the_weights_it_scales():
    from grokjax.analysis.batchnorm import batchnorm_layers, ipr_gamma_correlations
    from grokjax.analysis.ipr import embedding_ipr, output_ipr

    rng = np.random.default_rng(0)
    p, n = 13, 40
    params = {"U": rng.normal(size=(n, p)), "V": rng.normal(size=(n, p)), "hidden_1": rng.normal(size=(n, n)),
              "W": rng.normal(size=(p, n))}
    # Half the neurons periodic on the input side, a different half on the output side.
    cosine = np.cos(2 * np.pi * 3 * np.arange(p) / p)
    params["U"][: n // 2] = params["V"][: n // 2] = cosine
    params["W"][:, n // 4: 3 * n // 4] = cosine[:, None]
    in_ipr, out_ipr = embedding_ipr(params, p), output_ipr(params)
    params["batchnorm_0"] = {"scale": -2.0 * in_ipr, "bias": np.zeros(n)}  # |gamma| rises with input IPR
    params["batchnorm_1"] = {"scale": out_ipr ** 2, "bias": np.zeros(n)}  # gamma rises with output IPR
    layers = batchnorm_layers(params)
    assert set(layers) == {"input", "output"}
    np.testing.assert_array_equal(layers["input"][1], params["batchnorm_0"]["scale"])
    np.testing.assert_array_equal(layers["output"][1], params["batchnorm_1"]["scale"])
    assert ipr_gamma_correlations(*layers["input"])["spearman_ipr_abs_gamma"] == pytest.approx(1.0)
    assert ipr_gamma_correlations(*layers["input"])["spearman_ipr_gamma"] == pytest.approx(-1.0)
    assert ipr_gamma_correlations(*layers["output"])["spearman_ipr_gamma"] == pytest.approx(1.0)
    # The eq. 1 MLP (one norm, no hidden layer): neuron IPR (eq. 4) against batchnorm_0.
    shallow = {k: params[k] for k in ("U", "V", "W", "batchnorm_0")}
    assert set(batchnorm_layers(shallow)) == {"neuron"}
    with pytest.raises(KeyError):
        batchnorm_layers({k: params[k] for k in ("U", "V", "W")})


def test_batchnorm_experiment_deeper_mlp_tiny(tmp_path, tiny_cfg):
    import dataclasses

    from scipy import stats

    from grokjax.analysis.ipr import output_ipr
    from grokjax.checkpoint.reader import load_run_dir
    from grokjax.checkpoint.store import CheckpointOptions
    from grokjax.train.experiment import run_grid_experiment
    from grokjax.train.sweep import make_grid

    run_dir = str(tmp_path / "bn3")
    cfg = dataclasses.replace(tiny_cfg, depth=2, activation="relu", norm="batchnorm", batch_size=16, steps=20,
                              eval_every=20)
    run_grid_experiment(cfg, make_grid({"frac": 0.6}, [("xi", [0.1, 0.3])]), run_dir, ["xi"], progress=False,
                        checkpoint=CheckpointOptions(snapshot_steps=(20,)))
    out = tmp_path / "fig"
    # The same directory stands in for the no-norm network (only its histograms are drawn).
    numbers = _load_script("doshi2024_batchnorm").batchnorm_experiment(run_dir, run_dir, str(out), run=1)
    assert numbers["depth"] == 2 and numbers["xi"] == pytest.approx(0.3)
    for layer in ("input", "output"):
        assert 0 < numbers[f"mean_ipr_{layer}_bn"] <= 1
        assert -1 <= numbers[f"pearson_ipr_abs_gamma_{layer}"] <= 1
    # The output-layer correlation is the one of run 1's W columns with the BatchNorm right before W.
    params = load_run_dir(run_dir)[5](20)
    expected = stats.spearmanr(output_ipr(params)[1], np.abs(params["batchnorm_1"]["scale"][1]))[0]
    assert numbers["spearman_ipr_abs_gamma_output"] == pytest.approx(expected)
    for name in ("fig15_curves", "fig15_ipr_hist", "fig15_batchnorm"):
        assert os.path.getsize(out / f"{name}.png") > 1000
    with open(out / "fig15_numbers.json") as f:
        assert json.load(f)["run"] == 1


def test_prune_width_experiment_tiny(tmp_path, tiny_cfg):
    module = _load_script("doshi2024_prune_width")
    hp = {"frac": 0.6, "xi": 0.2, "wd": 1.0, "lr": 0.01}
    summary = module.prune_width_experiment(tiny_cfg, hp, [tiny_cfg.width], 1, 0.0, 3, str(tmp_path),
                                            progress=False)
    # Threshold 0: every neuron can go, so none are needed.
    row = summary[str(tiny_cfg.width)]
    assert row["neurons_needed_mean"] == 0 and row["fraction_prunable_mean"] == 1.0
    assert os.path.getsize(tmp_path / "prune_width.png") > 1000


def test_prune_width_experiment_resumes_from_its_checkpoints(tmp_path, tiny_cfg):
    import dataclasses

    from grokjax.checkpoint.store import CheckpointOptions
    from grokjax.config import ConfigError

    module = _load_script("doshi2024_prune_width")
    cfg = dataclasses.replace(tiny_cfg, steps=20, eval_every=20)
    hp = {"frac": 0.6, "xi": 0.2, "wd": 1.0, "lr": 0.01}
    run = lambda hparams: module.prune_width_experiment(  # noqa: E731
        cfg, hparams, [cfg.width], 2, 0.9, 3, str(tmp_path), progress=False,
        checkpoint=CheckpointOptions())
    first = run(hp)
    table = (tmp_path / "prune_width.csv").read_text()
    assert os.path.isdir(tmp_path / "sweeps" / f"width_{cfg.width}" / "checkpoints")
    # Rerunning the same command reads the finished sweep back: same trained nets, same table.
    assert run(hp) == first and (tmp_path / "prune_width.csv").read_text() == table
    # The checkpoints belong to that configuration: another one is refused, not mixed in.
    with pytest.raises(ConfigError, match="different configuration"):
        run({**hp, "lr": 0.02})


@pytest.mark.parametrize("model", ["transformer", "mlp3"])
def test_embedding_ipr_end_to_end_tiny(tmp_path, tiny_cfg, model):
    import dataclasses

    from grokjax.checkpoint.store import CheckpointOptions
    from grokjax.train.experiment import run_grid_experiment
    from grokjax.train.sweep import make_grid

    arch = (dict(model="transformer", width=16, heads=2, depth=1, activation="relu", norm="layernorm")
            if model == "transformer" else dict(depth=2, activation="relu"))
    cfg = dataclasses.replace(tiny_cfg, steps=20, eval_every=20, **arch)
    grid = make_grid({"frac": 0.6}, [("wd", [0.0, 1.0]), ("xi", [0.1, 0.3])])
    run_dir = str(tmp_path / model)
    run_grid_experiment(cfg, grid, run_dir, ["wd", "xi"], progress=False,
                        checkpoint=CheckpointOptions(snapshot_steps=(0, 20)))
    numbers = _load_script("doshi2024_embedding_ipr").embedding_ipr_figures(run_dir, str(tmp_path / "fig"), "t")
    # Rows = xi, columns = wd, as the phase diagram; each point is one run here.
    assert [(pt["wd"], pt["xi"]) for pt in numbers["points"]] == [(0.0, 0.1), (1.0, 0.1), (0.0, 0.3), (1.0, 0.3)]
    floor = 1.0 / (cfg.p // 2 + 1)  # a flat spectrum; eq. 3 is at most 1
    for pt in numbers["points"]:
        for key in ("mean_embedding_ipr", "mean_embedding_ipr_init", "mean_output_ipr"):
            assert floor - 1e-6 <= pt[key] <= 1.0
    for name in ("embedding_ipr", "output_ipr"):
        assert os.path.getsize(tmp_path / "fig" / f"t_{name}.png") > 1000
    with open(tmp_path / "fig" / "t_ipr_numbers.json") as f:
        assert json.load(f)["static"]["model"] == cfg.model
    if model == "mlp3":  # Figure 14: the same grid point of several sweeps side by side
        compared = _load_script("doshi2024_embedding_ipr").compare_sweeps([run_dir, run_dir], "wd=1,xi=0.3",
                                                                          str(tmp_path / "fig"), "c")
        assert [row["run"] for row in compared["sweeps"]] == [3, 3]
        row = compared["sweeps"][0]
        assert row["init"] == "doshi"
        assert row["mean_embedding_ipr"] == pytest.approx(numbers["points"][3]["mean_embedding_ipr"])
        assert os.path.getsize(tmp_path / "fig" / "c_compare.png") > 1000
    if model == "transformer":  # Figure 12: whole grids of several sweeps, one row each
        script = _load_script("doshi2024_embedding_ipr")
        both = script.compare_figures(script.parse_compare(f"a={run_dir},b={run_dir}"), str(tmp_path / "fig"), "c")
        assert [c["label"] for c in both["configs"]] == ["a", "b"]
        assert both["configs"][1]["points"] == numbers["points"]
        assert os.path.getsize(tmp_path / "fig" / "c_embedding_ipr.png") > 1000
        with pytest.raises(ConfigError, match="--compare_grids"):
            script.parse_compare("a=x,b")
