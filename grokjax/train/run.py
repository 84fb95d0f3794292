"""One run as pure functions: init -> lax.scan over steps -> evaluation.

`make_run_fns(cfg, dataset, model)` closes over the static structure (shapes,
the dataset, step counts) and returns functions of (state, hparams) that
`grokjax.train.sweep` jits and vmaps over a leading run axis. Nothing about a
run lives outside its arrays.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from grokjax.config import StaticConfig
from grokjax.data.datasets import Dataset
from grokjax.data.splits import RunData, make_run_data, n_train_of
from grokjax.models import make_model
from grokjax.models.base import Model, scale_params
from grokjax.optim.chains import make_optimizer
from grokjax.train import measures
from grokjax.train.losses import LOSSES, masked_mean


class RunState(NamedTuple):
    params: dict
    model_state: dict
    opt_state: optax.OptState
    data: RunData
    step_key: jax.Array  # per-step randomness is fold_in(step_key, step)
    step: jax.Array  # () int32, steps taken
    diverged: jax.Array  # () bool: a non-finite loss or parameter was produced
    diverged_step: jax.Array  # () int32, -1 if never


class Task(NamedTuple):
    """How a run's model is fed and scored: the hook for tasks that are more than a Dataset and a loss.

    loss(outputs_B, targets_B) -> (B,) per-example loss; correct(outputs_B, targets_B) -> (B,) bool;
    inputs(inputs_B, hp) -> the model's inputs, a per-run (traced) transformation of the dataset's
    (None: the dataset's inputs as they are, at no cost). The Omnigrok representation toy model
    (grokjax.analysis.representation) mixes its symbols' embeddings by each run's messiness here.
    """

    loss: Callable[[jax.Array, jax.Array], jax.Array]
    correct: Callable[[jax.Array, jax.Array], jax.Array]
    inputs: Callable[[jax.Array, dict], jax.Array] | None = None


def default_task(cfg: StaticConfig, dataset: Dataset) -> Task:
    """cfg.loss; correct = the arg max is the label, or (regression) the error is below the tolerance."""
    loss_fn = LOSSES[cfg.loss]

    def correct(outputs, targets):
        if dataset.is_classification:
            return jnp.argmax(outputs, -1) == targets
        # Omnigrok's regression "accuracy": an example counts as correct when its
        # mean squared error is below a threshold (beta = 0.01 in their Figure 2).
        return loss_fn(outputs, targets) < cfg.regression_tolerance
    return Task(loss=loss_fn, correct=correct)


class RunFns(NamedTuple):
    init: Callable[[dict], RunState]
    train_chunk: Callable[[RunState, dict, int], tuple[RunState, dict]]
    evaluate: Callable[[RunState, dict], dict]


def _tree_all_finite(tree) -> jax.Array:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]))


def _select(pred: jax.Array, on_true, on_false):
    return jax.tree.map(lambda a, b: jnp.where(pred, a, b), on_true, on_false)


def param_norms(params: dict) -> dict[str, jax.Array]:
    """Global L2 norm and one per top-level parameter group (layer): the weight_norms measure."""
    return measures.weight_norms(measures.Probe(params, {}, None, None, None, None, 0))


def effective_batch(cfg: StaticConfig, n_train: jax.Array) -> jax.Array:
    if cfg.batch_rule == "power":  # Power et al.: 512 or half the training set, if smaller
        return jnp.clip(n_train // 2, 1, cfg.batch_size)
    return jnp.minimum(n_train, cfg.batch_size)


# Full-batch steps compute on the training rows when the largest training set is at most
# this share of the table. Measured on the Doshi MLP, rows are faster than the masked whole
# table up to frac 0.97 (0.93x), at up to 1.8x the memory per run (docs/performance.md);
# 0 = always the whole table (the benchmarks' --full_table).
MAX_ROWS_SHARE = 1.0


def row_capacity(cfg: StaticConfig, dataset: Dataset, max_frac: float | None) -> int:
    """Static number of row slots of a full-batch step: the largest n_train of any run whose
    frac <= max_frac (the same computation as the traced split), or 0 = the whole table
    (also for minibatch configs, where it does not apply)."""
    if max_frac is None or cfg.batch_size != 0:
        return 0
    n = dataset.size
    n_pool = n if dataset.held_out is None else int(n - np.sum(dataset.held_out))
    capacity = int(n_train_of(max_frac, n_pool, n, xp=np))  # on the host: no device compile
    return capacity if capacity <= MAX_ROWS_SHARE * n else 0


def training_rows(data: RunData, capacity: int) -> tuple[jax.Array, jax.Array]:
    """(rows, active) of `capacity` slots: the run's training rows in table order in the first
    n_train slots (sorted, so the MLP's first-layer gathers and their scatter-add gradients walk
    the parameters in order), validation rows in the inactive rest."""
    n = data.perm.shape[0]
    first = data.perm[:capacity]  # ranks < n_train are the training rows
    active = jnp.arange(capacity) < data.n_train
    keys = jnp.sort(jnp.where(active, first, first + n))  # inactive slots sort last
    return jnp.where(keys >= n, keys - n, keys), active


def make_run_fns(cfg: StaticConfig, dataset: Dataset, model: Model | None = None,
                 max_frac: float | None = None, task: Task | None = None) -> RunFns:
    """Per-run functions for `dataset`; `model` defaults to the one cfg names for it.

    `max_frac`: the largest training fraction of any run these functions will train (a
    sweep passes its grid's). Full-batch steps then compute on that many row slots, each
    run's training rows gathered into them, instead of the whole table; None = the whole
    table with a mask (any frac). Only the speed differs. `train_chunk(..., rows=k)`
    overrides the number of slots (row_capacity) for one batch of runs. `task`: how outputs are
    scored and inputs fed (default_task: cfg.loss on the dataset as it is).
    """
    model = model or make_model(cfg, dataset.n_classes)
    task = task or default_task(cfg, dataset)
    loss_fn, correct = task.loss, task.correct
    inputs_all = jax.tree.map(jnp.asarray, dataset.inputs)
    answers = jnp.asarray(dataset.targets)
    default_rows = row_capacity(cfg, dataset, max_frac)
    # A chosen measure that does not apply to this model is refused here, before anything compiles.
    measures.check_applicable(cfg.measures, jax.eval_shape(lambda: model.init(jax.random.key(0))[0]), cfg,
                              dataset.n_classes)

    def model_inputs(inputs, hp):
        return inputs if task.inputs is None else task.inputs(inputs, hp)

    def optimizer(hp, rng=None):
        # The noise key only seeds the optimizer state at init; updates carry their own.
        return make_optimizer(cfg, hp, rng if rng is not None else jax.random.key(0))

    def init(hp: dict) -> RunState:
        model_key = jax.random.key(hp["model_seed"])
        k_init, k_noise, k_steps = jax.random.split(model_key, 3)
        params, model_state = model.init(k_init)
        params = scale_params(params, hp["alpha"])
        data = make_run_data(jax.random.key(hp["data_seed"]), answers, dataset.n_classes,
                             hp["frac"], hp["xi"], hp["outliers"], dataset.held_out)
        return RunState(params=params, model_state=model_state,
                        opt_state=optimizer(hp, k_noise).init(params), data=data,
                        step_key=k_steps, step=jnp.zeros((), jnp.int32),
                        diverged=jnp.zeros((), bool), diverged_step=-jnp.ones((), jnp.int32))

    def batch(state: RunState, key: jax.Array, train_rows: tuple | None):
        """(inputs, labels, weights, mask) of one optimization step; weights sum to 1."""
        data = state.data
        if cfg.batch_size == 0 and train_rows is None:
            mask = data.train_mask
            return inputs_all, data.labels, mask / data.n_train, mask
        if cfg.batch_size == 0:  # the (rows, active) of training_rows, the same every step
            rows, mask = train_rows
            weights = mask / data.n_train
        else:
            # Positions sampled uniformly in [0, n_train) and mapped through the permutation;
            # a fixed-size buffer with the first `eff` slots active keeps shapes static.
            ranks = jax.random.randint(key, (cfg.batch_size,), 0, data.n_train)
            rows = data.perm[ranks]
            eff = effective_batch(cfg, data.n_train)
            mask = jnp.arange(cfg.batch_size) < eff
            weights = mask / eff
        return jax.tree.map(lambda a: a[rows], inputs_all), data.labels[rows], weights, mask

    def train_step(state: RunState, hp: dict, train_rows: tuple | None = None) -> RunState:
        k_batch, k_dropout, k_weight_noise = jax.random.split(jax.random.fold_in(state.step_key, state.step), 3)
        inputs, labels, weights, mask = batch(state, k_batch, train_rows)

        def objective(params):
            if cfg.enable_weight_noise:  # Power et al.: W replaced by W + sigma * eps in the model
                leaves, treedef = jax.tree.flatten(params)
                keys = jax.random.split(k_weight_noise, len(leaves))
                params = jax.tree.unflatten(treedef, [
                    w + hp["weight_noise"] * jax.random.normal(k, w.shape, w.dtype) for w, k in zip(leaves, keys)])
            logits, model_state = model.apply(params, state.model_state, model_inputs(inputs, hp), train=True,
                                              rng=k_dropout, dropout_rate=hp["dropout"], example_mask=mask)
            return jnp.sum(weights * loss_fn(logits, labels)), model_state

        (loss, model_state), grads = jax.value_and_grad(objective, has_aux=True)(state.params)
        updates, opt_state = optimizer(hp).update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        # A non-finite step freezes this run at its last finite state; other runs go on.
        bad = ~(jnp.isfinite(loss) & _tree_all_finite(params)) | state.diverged
        keep_old = lambda new, old: _select(bad, old, new)  # noqa: E731
        return state._replace(
            params=keep_old(params, state.params), model_state=keep_old(model_state, state.model_state),
            opt_state=keep_old(opt_state, state.opt_state), step=state.step + 1, diverged=bad,
            diverged_step=jnp.where(bad & ~state.diverged, state.step, state.diverged_step))

    def evaluate(state: RunState, hp: dict) -> dict:
        data = state.data
        outputs, _ = model.apply(state.params, state.model_state, model_inputs(inputs_all, hp), train=False)
        loss_labels, loss_true = loss_fn(outputs, data.labels), loss_fn(outputs, answers)
        hit_labels, hit_true = correct(outputs, data.labels), correct(outputs, answers)
        train, val, corrupted = data.train_mask, ~data.train_mask, data.corrupted
        metrics = {
            "train_loss": masked_mean(loss_labels, train),
            "train_acc": masked_mean(hit_labels, train),
            "train_clean_loss": masked_mean(loss_labels, train & ~corrupted),
            "train_clean_acc": masked_mean(hit_labels, train & ~corrupted),
            "train_corrupt_loss": masked_mean(loss_labels, train & corrupted),
            "train_corrupt_acc": masked_mean(hit_labels, train & corrupted),
            # Inversion: how often the net predicts the *true* answer of a corrupted example.
            "train_corrupt_true_acc": masked_mean(hit_true, train & corrupted),
            "val_loss": masked_mean(loss_true, val),
            "val_acc": masked_mean(hit_true, val),
            # The measures (grokjax.train.measures): the weight norms always, then --measures.
            **measures.evaluate_measures(cfg.measures, measures.Probe(
                state.params, state.model_state, data, inputs_all, answers, outputs, dataset.n_classes, loss_fn)),
        }
        # A diverged run reports NaN from then on rather than its frozen last state.
        return {k: jnp.where(state.diverged, jnp.nan, v) for k, v in metrics.items()}

    def train_chunk(state: RunState, hp: dict, n_steps: int, rows: int | None = None) -> tuple[RunState, dict]:
        rows = default_rows if rows is None else rows
        train_rows = training_rows(state.data, rows) if rows else None  # once per chunk, not per step
        state, _ = jax.lax.scan(lambda s, _: (train_step(s, hp, train_rows), None), state, None, length=n_steps)
        return state, evaluate(state, hp)

    return RunFns(init=init, train_chunk=train_chunk, evaluate=evaluate)
