"""The sweep engine: vmapped runs equal single runs, grokking, divergence isolation."""
import dataclasses
import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tolerances import TINY_K, TINY_STEPS, assert_f32_close

from grokjax.config import StaticConfig
from grokjax.data.datasets import operation_dataset
from grokjax.train.run import make_run_fns, row_capacity
from grokjax.train.schedule import eval_steps
from grokjax.train.summary import first_step_reaching, summarize
from grokjax.train.sweep import (CPU_GROUP_SIZE, CPU_LARGE_RUN_BYTES, BatchTrainer, cpu_group_size, make_grid,
                                  run_sweep)


def curves_of(result, runs):
    return {k: v[runs] for k, v in result.curves.items()}


@pytest.mark.parametrize("variant", [
    {},  # Doshi MLP, full batch, MSE
    {"batch_size": 16, "loss": "ce", "norm": "batchnorm", "decay_to": "init"},
    {"model": "transformer", "width": 16, "heads": 2, "activation": "relu", "norm": "layernorm",
     "batch_size": 32, "batch_rule": "power", "warmup_steps": 5, "optimizer": "adam"},
])
def test_vmapped_batch_equals_runs_trained_alone(tiny_cfg, variant):
    cfg = dataclasses.replace(tiny_cfg, **variant)
    grid = make_grid({"lr": 0.01}, [("frac", [0.3, 0.6]), ("xi", [0.0, 0.3])], seeds=1)
    grid["dropout"][1] = 0.2  # every traced feature active in some run
    grid["grad_noise"][2] = 0.01
    grid["weight_noise"][3] = 0.01
    together = run_sweep(cfg, grid, progress=False)
    alone = run_sweep(cfg, grid, max_runs_per_batch=1, progress=False)
    assert_f32_close(together.curves, alone.curves, k=TINY_K, steps=TINY_STEPS)
    assert_f32_close(together.params, alone.params, k=TINY_K, steps=TINY_STEPS)


def test_runs_trained_in_groups_equal_one_vmap_over_all_runs(tiny_cfg):
    # The CPU default trains vmapped groups one after another; 6 runs in groups of 4 is one
    # full group and a remainder, both must give what one vmap over the 6 runs gives.
    grid = make_grid({"lr": 0.01}, [("frac", [0.3, 0.5, 0.7]), ("xi", [0.0, 0.3])], seeds=1)
    grouped = run_sweep(tiny_cfg, grid, progress=False, group_size=4)
    whole = run_sweep(tiny_cfg, grid, progress=False, group_size=0)
    assert_f32_close(grouped.curves, whole.curves, k=TINY_K, steps=TINY_STEPS)
    assert_f32_close(grouped.params, whole.params, k=TINY_K, steps=TINY_STEPS)


def test_small_runs_share_a_vmap_on_cpu_and_large_runs_go_one_by_one():
    assert cpu_group_size(0.1 * 2 ** 20) == CPU_GROUP_SIZE
    assert cpu_group_size(CPU_LARGE_RUN_BYTES) == cpu_group_size(50 * CPU_LARGE_RUN_BYTES) == 1


def test_batches_of_a_large_grid_match_the_whole_grid(tiny_cfg):
    grid = make_grid({"lr": 0.01, "wd": 1.0}, [("frac", [0.3, 0.5, 0.7])], seeds=2)
    whole = run_sweep(tiny_cfg, grid, progress=False)
    for group_size in (None, 0):  # CPU default: the last batch trains its 2 runs; 0: padded to 4
        split = run_sweep(tiny_cfg, grid, max_runs_per_batch=4, progress=False, group_size=group_size)
        assert_f32_close(split.curves, whole.curves, k=TINY_K, steps=TINY_STEPS)


def test_a_short_last_batch_is_padded_only_where_runs_share_one_vmap(tiny_cfg):
    fns = make_run_fns(tiny_cfg, operation_dataset("add", tiny_cfg.p))
    assert BatchTrainer(tiny_cfg, fns, mesh=None, group_size=4).batch_size_for(2, 32) == 2
    assert BatchTrainer(tiny_cfg, fns, mesh=None, group_size=0).batch_size_for(2, 32) == 32


def test_small_modular_addition_task_groks():
    cfg = StaticConfig(op="add", p=23, width=128, steps=600, eval_every=50)
    result = run_sweep(cfg, make_grid({"lr": 0.01, "wd": 1.0, "frac": 0.6}), progress=False)
    train, val = result.curves["train_acc"][0], result.curves["val_acc"][0]
    assert val[-1] == 1.0
    assert val[0] < 0.2  # it did not start out generalizing
    step_train = first_step_reaching(result.curves["train_acc"], result.steps, 0.99)[0]
    step_val = first_step_reaching(result.curves["val_acc"], result.steps, 0.99)[0]
    assert step_train <= step_val  # fits the training set first, generalizes later
    assert train[-1] == 1.0


def test_a_diverging_run_is_marked_and_does_not_disturb_the_others(tiny_cfg):
    cfg = dataclasses.replace(tiny_cfg, optimizer="sgd")
    grid = make_grid({"frac": 0.5}, [("lr", [0.5, 1e7])], seeds=1)
    both = run_sweep(cfg, grid, progress=False)
    alone = run_sweep(cfg, make_grid({"frac": 0.5, "lr": 0.5}), progress=False)
    assert list(both.diverged) == [False, True]
    assert both.diverged_step[1] >= 0
    assert np.all(np.isnan(both.curves["val_acc"][1, 1:]))
    assert_f32_close(curves_of(both, [0]), alone.curves, k=TINY_K, steps=TINY_STEPS)
    summary = summarize(both)
    assert list(summary["diverged"]) == [False, True]


def test_early_stop_ends_the_batch_once_every_run_generalized():
    cfg = StaticConfig(op="add", p=23, width=128, steps=3000, eval_every=50, early_stop_val_acc=0.99)
    result = run_sweep(cfg, make_grid({"lr": 0.01, "wd": 1.0, "frac": 0.7}), progress=False)
    reached = ~np.isnan(result.curves["val_acc"][0])
    assert not reached.all()  # later evaluation points were never computed
    assert result.curves["val_acc"][0][reached][-1] >= 0.99
    assert summarize(result)["final_val_acc"][0] >= 0.99


def test_grid_order_and_seeds():
    grid = make_grid({"wd": 2.0}, [("frac", [0.2, 0.4]), ("xi", [0.0, 0.1, 0.2])], seeds=2, seed=10,
                     data_seed=100)
    assert len(grid["frac"]) == 12
    assert list(grid["frac"][:6]) == [np.float32(0.2)] * 6
    assert list(grid["model_seed"][:4]) == [10, 11, 10, 11]
    assert list(grid["data_seed"][:2]) == [100, 101]
    assert np.all(grid["wd"] == 2.0)


def test_linear_eval_schedule():
    assert list(eval_steps(250, 100)) == [0, 100, 200, 250]


@pytest.mark.parametrize("steps, eval_every", [(100_000, 10), (1_000_000, 100), (14_000, 50), (1000, 10), (7, 3)])
def test_log_eval_schedule_gaps_never_shrink(steps, eval_every):
    """Each gap is one compiled chunk length: the gaps are eval_every * 2^k and never shrink (each
    at most doubles its predecessor), so there are only ~log2(steps / eval_every) distinct lengths.
    The last gap is the remainder up to `steps` and may be shorter."""
    log = eval_steps(steps, eval_every, "log")
    assert log[0] == 0 and log[-1] == steps
    gaps = np.diff(log)
    assert np.all(gaps > 0)
    body = gaps[:-1]
    assert np.all(body[1:] >= body[:-1])  # non-decreasing
    assert set((body[1:] // body[:-1]).tolist()) <= {1, 2} and np.all(body[1:] % body[:-1] == 0)
    assert np.all(np.log2(body / eval_every) % 1 == 0)  # eval_every * 2^k
    assert gaps[-1] <= 2 * body[-1] if body.size else gaps[-1] <= eval_every
    assert len(set(gaps.tolist())) <= np.log2(max(steps // eval_every, 1)) + 2


@pytest.mark.parametrize("variant", [{}, {"norm": "batchnorm"}])
def test_training_rows_step_equals_the_masked_full_table_step(tiny_cfg, variant):
    """Full-batch steps on the gathered training rows give the gradients (and BatchNorm
    statistics) of the whole table with a mask, for several fracs in one vmapped batch."""
    cfg = dataclasses.replace(tiny_cfg, optimizer="sgd", **variant)
    dataset = operation_dataset("add", 11)
    fracs = [0.2, 0.45, 0.7]
    hp = {k: jnp.asarray(v) for k, v in make_grid({"lr": 1.0}, [("frac", fracs)]).items()}
    table_fns, rows_fns = make_run_fns(cfg, dataset), make_run_fns(cfg, dataset, max_frac=max(fracs))
    assert row_capacity(cfg, dataset, None) == 0 and row_capacity(cfg, dataset, max(fracs)) == int(0.7 * 121)
    start = jax.vmap(table_fns.init)(hp)
    # Exact: initialization is elementwise draws from the same keys, the split integer arithmetic.
    chex.assert_trees_all_equal(start, jax.vmap(rows_fns.init)(hp))

    def one_sgd_step(fns):
        state, _ = jax.vmap(functools.partial(fns.train_chunk, n_steps=1))(start, hp)
        return jax.tree.map(lambda old, new: old - new, start.params, state.params), state.model_state

    (table_grads, table_stats), (rows_grads, rows_stats) = one_sgd_step(table_fns), one_sgd_step(rows_fns)
    assert all(float(jnp.abs(g).max()) > 0 for g in jax.tree.leaves(table_grads))
    # One step, sums over <= 121 rows (gradients recovered as params - (params - g): the per-leaf
    # atol of assert_f32_close also covers that subtraction's u * |params|).
    assert_f32_close(rows_grads, table_grads, k=TINY_K)
    assert_f32_close(rows_stats, table_stats, k=TINY_K)


def test_plot_titles_name_the_fixed_hyperparameters_that_tell_sweeps_apart(tiny_cfg):
    from grokjax.train.experiment import plot_title

    grid = make_grid({"wd": 20.0, "dropout": 0.0, "xi": 0.3}, [("frac", [0.4, 0.5])])
    title = plot_title(tiny_cfg, grid, ["frac"])
    # lr and wd always; xi because it is not its default; dropout (default) and the axis frac not.
    assert title.endswith(", lr=0.01 wd=20 xi=0.3") and "dropout" not in title and "frac" not in title
