"""Train a grid of runs in jitted, vmapped calls: the sweep engine.

    fns = make_run_fns(cfg, table)                  # pure per-run functions
    chunk = jit(vmap(fns.train_chunk))              # (states_R, hparams_R) -> (states_R, metrics_R)

A grid larger than `max_runs_per_batch` is cut into batches that reuse the same
compiled functions (a short last batch is padded, except on a CPU:
BatchTrainer.batch_size_for). Full-batch steps compute on the training rows of a
batch's largest frac, so batches whose largest fracs differ compile one chunk
program each. The host loop over evaluation chunks drives progress/ETA and early
stopping; it only sees (runs x metrics).
"""
from __future__ import annotations

import dataclasses
import functools
import itertools
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from grokjax.checkpoint.store import BatchCheckpoints, SweepCheckpoints
from grokjax.config import HPARAMS, SEED_KEYS, ConfigError, StaticConfig, validate_hparam, validate_static
from grokjax.data.datasets import Dataset, operation_dataset
from grokjax.models.base import Model
from grokjax.optim.chains import OWN_OPTIMIZERS
from grokjax.train import devices, interrupt
from grokjax.train.run import RunFns, RunState, Task, make_run_fns, row_capacity
from grokjax.train.schedule import eval_steps

Grid = dict  # name -> (G,) numpy array, one entry per run


def make_grid(base: dict[str, float], axes: Sequence[tuple[str, Sequence[float]]] = (), seeds: int = 1,
              seed: int = 0, data_seed: int | None = None) -> Grid:
    """Every combination of the axes' values x seeds, as flat per-run arrays.

    Runs are ordered axis by axis (first axis slowest), seeds fastest. Run s of a
    grid point has model_seed = seed + s and data_seed = data_seed + s, so with
    the same data_seed the points of a grid share their splits seed by seed.
    """
    data_seed = seed if data_seed is None else data_seed
    names = [name for name, _ in axes]
    for name, values in axes:
        validate_hparam(name, values)
    for name, value in base.items():
        validate_hparam(name, value)
    rows = []
    for combo in itertools.product(*[list(v) for _, v in axes], range(seeds)):
        row = {**{k: HPARAMS[k].default for k in HPARAMS}, **base, **dict(zip(names, combo[:-1]))}
        row["model_seed"], row["data_seed"] = seed + combo[-1], data_seed + combo[-1]
        rows.append(row)
    return {k: np.asarray([r[k] for r in rows], dtype=np.int32 if k in SEED_KEYS else np.float32)
            for k in (*HPARAMS, *SEED_KEYS)}


def grid_size(grid: Grid) -> int:
    return len(grid["model_seed"])


def features_for(cfg: StaticConfig, grid: Grid) -> StaticConfig:
    """Compile dropout / noise / gradient interventions in only if some run of the grid uses them."""
    if cfg.optimizer not in OWN_OPTIMIZERS and np.any(grid["grad_noise"] > 0):
        raise ConfigError(f"--grad_noise is for --optimizer={'/'.join(OWN_OPTIMIZERS)}; "
                          f"--optimizer={cfg.optimizer} takes none")
    return dataclasses.replace(cfg, enable_dropout=bool(np.any(grid["dropout"] > 0)),
                               enable_grad_noise=bool(np.any(grid["grad_noise"] > 0)),
                               enable_weight_noise=bool(np.any(grid["weight_noise"] > 0)),
                               enable_grokfast=bool(np.any(grid["grokfast_lambda"] > 0)),
                               enable_orthograd=bool(np.any(grid["orthograd"] > 0)))


def run_fns_for(cfg: StaticConfig, grid: Grid, dataset: Dataset, model: Model | None = None,
                task: Task | None = None) -> RunFns:
    """The per-run functions of a sweep of `grid`: full-batch steps hold the training rows of
    its largest frac unless a batch passes fewer (run_sweep does, per batch)."""
    return make_run_fns(cfg, dataset, model, max_frac=float(np.max(grid["frac"])), task=task)


@dataclasses.dataclass
class SweepResult:
    """Everything a sweep produced; every per-run array has the grid's run axis first."""

    cfg: StaticConfig
    grid: Grid
    steps: np.ndarray  # (T,) step of each evaluation point
    curves: dict[str, np.ndarray]  # name -> (G, T); NaN after divergence or early stop
    diverged: np.ndarray  # (G,) bool
    diverged_step: np.ndarray  # (G,) int, -1 if never
    params: dict | None = None  # final parameters, leading axis G (numpy), if kept


def _run_mesh():
    return devices.run_mesh()


# On one CPU device a chunk trains its runs in vmapped groups, one group after another, so a
# group's working set stays in cache. Small runs (state: parameters, optimizer state and data
# split, under CPU_LARGE_RUN_BYTES) go in groups of CPU_GROUP_SIZE: at R = 64 the small MLP
# (0.1 MiB) costs 0.78x the CPU time per run of one run alone, 1.17-1.23x in one vmap, and the
# small transformer (0.3 MiB) 0.77x vs 0.82-0.98x. Large runs are matmul-bound and gain nothing
# from sharing a vmap, so they go one after another: Doshi MLP (1.8 MiB) at R = 16 0.91x vs
# 1.14x, Power transformer (4.9 MiB) at R = 4 1.01x vs 1.31x (docs/performance.md).
# Accelerators run the whole vmap at once (grouping would only serialize their kernels), as
# does a run axis sharded across devices.
CPU_GROUP_SIZE = 16
CPU_LARGE_RUN_BYTES = 2 ** 20


def cpu_group_size(state_bytes_per_run: float) -> int:
    """Runs vmapped together on a CPU: CPU_GROUP_SIZE small runs, or one large run."""
    return 1 if state_bytes_per_run >= CPU_LARGE_RUN_BYTES else CPU_GROUP_SIZE


class BatchTrainer:
    """Compiled functions for one static config, reused by every batch of a sweep.

    With several devices (of one or several hosts) the run axis is split across
    them (grokjax.train.devices); metrics and the per-run step/divergence flags
    come back replicated, so every process can read them.
    """

    def __init__(self, cfg: StaticConfig, fns: RunFns, mesh=None, group_size: int | None = None):
        self.cfg = cfg
        self.fns = fns
        self.mesh = _run_mesh() if mesh is None else mesh
        # group_size > 0 (one device only): the chunk trains groups of this many vmapped runs
        # one group after another (lax.map), so a group's working set can stay in CPU cache;
        # 0: one vmap over all runs; None: cpu_group_size on a single CPU device, else 0.
        if self.mesh is not None or (group_size is None and jax.default_backend() != "cpu"):
            group_size = 0
        self.group_size = group_size
        state_out, metrics_out = self._out_shardings()
        self.init = jax.jit(jax.vmap(fns.init), out_shardings=state_out)
        self.evaluate = jax.jit(jax.vmap(fns.evaluate), out_shardings=metrics_out)

    def _out_shardings(self):
        if self.mesh is None:
            return None, None
        run, rep = devices.run_sharding(self.mesh), devices.replicated(self.mesh)
        state = RunState(params=run, model_state=run, opt_state=run, data=run, step_key=run, step=rep,
                         diverged=rep, diverged_step=rep)
        return state, rep

    @functools.lru_cache(maxsize=None)
    def chunk(self, n_steps: int, rows: int | None = None) -> Callable:
        """jit(vmap(train_chunk)) of n_steps; `rows`: full-batch row slots (None: the fns' default)."""
        fn = functools.partial(self.fns.train_chunk, n_steps=n_steps, **({} if rows is None else {"rows": rows}))
        state_out, metrics_out = self._out_shardings()
        out = None if state_out is None else (state_out, metrics_out)
        if self.group_size == 0:
            return jax.jit(jax.vmap(fn), donate_argnums=0, out_shardings=out)

        def grouped(state, hp):
            size = self.groups_of(state)
            if size == 0:
                return jax.vmap(fn)(state, hp)
            return jax.lax.map(lambda a: fn(*a), (state, hp), batch_size=size)
        return jax.jit(grouped, donate_argnums=0)

    def groups_of(self, state) -> int:
        """Size of the vmapped groups a chunk trains `state`'s runs in (0: one vmap over all)."""
        n_runs = jax.tree.leaves(state)[0].shape[0]
        size = self.group_size
        if size is None:
            size = cpu_group_size(sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(state)) / n_runs)
        return size if 0 < size < n_runs else 0

    def place(self, hp: dict) -> dict:
        """Put the run axis on the devices: sharded across them when there are several."""
        return devices.place(hp, self.mesh)

    def padded_size(self, n: int) -> int:
        return devices.padded_runs(n, self.mesh)

    def batch_size_for(self, n_real: int, batch_size: int) -> int:
        """Runs a batch of n_real runs trains: a short last batch is padded to the full batch
        size, so every batch reuses one compiled program, except where runs are trained in
        groups (a CPU): there a padded run costs as much as a real one (a Doshi et al. run
        ~30 s), while compiling the short batch's program takes seconds."""
        return self.padded_size(n_real) if self.group_size != 0 else batch_size

    def bytes_per_run(self, hp_one_run: dict, n_steps: int) -> int:
        """Compiled memory of one run of `chunk(n_steps)` (hp: a grid of one run, numpy)."""
        hp = {k: jnp.asarray(v) for k, v in hp_one_run.items()}
        fn = functools.partial(self.fns.train_chunk, n_steps=n_steps)
        state = jax.eval_shape(jax.vmap(self.fns.init), hp)
        return devices.bytes_per_run(jax.jit(jax.vmap(fn)), state, hp)


def max_runs_for_memory(cfg, grid: dict, budget_bytes: float, dataset=None) -> int:
    """Runs per batch that fit `budget_bytes` per device, from the compiled memory of one run."""
    cfg = features_for(cfg, grid)
    dataset = dataset if dataset is not None else operation_dataset(cfg.op, cfg.p)
    trainer = BatchTrainer(cfg, run_fns_for(cfg, grid, dataset))
    one = {k: np.asarray(v)[:1] for k, v in grid.items()}
    per_run = trainer.bytes_per_run(one, min(cfg.eval_every, cfg.steps))
    return devices.runs_for_budget(per_run, budget_bytes, trainer.mesh)


def check_run_memory(cfg: StaticConfig, grid: Grid, dataset: Dataset, budget_gb: float = 0.0,
                     model: Model | None = None) -> None:
    """grokjax.train.memory.check_run_fits with this sweep's run functions (of `model`, the engine's
    cfg.model by default): ConfigError (one line) if one run of `grid` cannot fit --memory_budget_gb
    (or the machine's memory when 0)."""
    from grokjax.train.memory import check_run_fits

    cfg = features_for(cfg, grid)
    check_run_fits(cfg, grid, dataset, budget_gb, lambda: run_fns_for(cfg, grid, dataset, model))


def _pad(grid: Grid, idx: np.ndarray, size: int) -> dict:
    """The runs `idx` of the grid, padded to `size` by repeating the last run."""
    idx = np.concatenate([idx, np.full(size - len(idx), idx[-1])])
    return {k: v[idx] for k, v in grid.items()}


def _progress(total: int, desc: str):
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=desc, unit="step", dynamic_ncols=True, mininterval=1.0)


def check_grid_fits(grid: Grid, dataset: Dataset) -> None:
    """Raises ConfigError (one line) for hyperparameters the dataset cannot take."""
    if not dataset.is_classification and (np.any(grid["xi"] > 0) or np.any(grid["outliers"] > 0)):
        raise ConfigError("--xi and --outliers corrupt class labels; this dataset is a regression task")
    if dataset.held_out is None and np.any(grid["frac"] >= 1):
        # frac = 1 is only meaningful with a fixed test set (Omnigrok's datasets).
        raise ConfigError(f"--frac={float(np.max(grid['frac'])):g} leaves no validation rows; "
                          "frac must be in (0, 1) for a dataset without a fixed test set")


def run_sweep(cfg: StaticConfig, grid: Grid, *, dataset: Dataset | None = None, model: Model | None = None,
              task: Task | None = None, max_runs_per_batch: int = 64, keep_params: bool = True,
              progress: bool = True, on_batch_done: Callable | None = None,
              checkpoints: SweepCheckpoints | None = None,
              on_progress: Callable[[SweepResult], None] | None = None,
              group_size: int | None = None, live=None) -> SweepResult:
    """Trains every run of `grid` and returns their curves (and final parameters).

    With `checkpoints`, each batch resumes from its latest checkpoint (a finished
    batch is only read back) and is checkpointed as `checkpoints.options` say.
    `on_progress` gets the result of the runs finished so far after each batch.

    `dataset` defaults to the operation table cfg.op mod cfg.p, `model` to the
    one cfg.model names; pass others to train any Dataset with any Model, and a `task`
    (grokjax.train.run.Task) to score its outputs another way.
    `group_size`: see BatchTrainer (None: the platform's default).
    `live`: a grokjax.train.live.LiveMetrics that every evaluation chunk is appended to.
    """
    if dataset is None:
        validate_static(cfg)
        dataset = operation_dataset(cfg.op, cfg.p)
    check_grid_fits(grid, dataset)
    cfg = features_for(cfg, grid)
    trainer = BatchTrainer(cfg, run_fns_for(cfg, grid, dataset, model, task), group_size=group_size)
    return train_grid(trainer, grid, max_runs_per_batch=max_runs_per_batch, keep_params=keep_params,
                      progress=progress, on_batch_done=on_batch_done, checkpoints=checkpoints,
                      on_progress=on_progress, live=live,
                      batch_rows=lambda idx: row_capacity(cfg, dataset, float(np.max(grid["frac"][idx]))))


def train_grid(trainer: BatchTrainer, grid: Grid, *, max_runs_per_batch: int = 64, keep_params: bool = True,
               progress: bool = True, on_batch_done: Callable | None = None,
               checkpoints: SweepCheckpoints | None = None,
               on_progress: Callable[[SweepResult], None] | None = None,
               batch_rows: Callable[[np.ndarray], int] | None = None, live=None) -> SweepResult:
    """The host loop of run_sweep for any per-run functions (`trainer.fns`) and any grid of arrays.

    Options as run_sweep. `batch_rows(run indices)`: the full-batch row slots of a batch.
    """
    cfg = trainer.cfg
    steps = eval_steps(cfg.steps, cfg.eval_every, cfg.eval_schedule)
    n_runs = grid_size(grid)
    batch_size = trainer.padded_size(min(max_runs_per_batch, n_runs))
    batches = [np.arange(n_runs)[i:i + batch_size] for i in range(0, n_runs, batch_size)]

    if checkpoints is not None:
        checkpoints.start(cfg, grid, batches, batch_size)
    curves, diverged, diverged_step, params = {}, [], [], []
    bar = _progress(cfg.steps * len(batches), f"{n_runs} runs in {len(batches)} batch(es)") if progress else None
    # One handler for the whole loop: a signal that lands between two batches (while results are
    # written) stops the next batch after its first chunk, checkpointed, instead of being dropped.
    with interrupt.stop_at_next_checkpoint() as stop_request:
        for b, idx in enumerate(batches):
            hp = trainer.place(_pad(grid, idx, trainer.batch_size_for(len(idx), batch_size)))
            store = checkpoints.batch(b, idx) if checkpoints is not None else None
            stream = live.batch(b, idx) if live is not None else None
            rows = batch_rows(idx) if batch_rows is not None else None  # this batch's largest frac
            try:
                batch_curves, state = train_batch(trainer, hp, steps, bar, store, rows, stop_request, stream)
            finally:
                if store is not None:
                    store.close()  # waits for the background write, also on Ctrl-C
                if stream is not None:
                    stream.close()
            keep = len(idx)
            for name, values in batch_curves.items():
                curves.setdefault(name, []).append(values[:keep])
            diverged.append(np.asarray(state.diverged)[:keep])
            diverged_step.append(np.asarray(state.diverged_step)[:keep])
            if keep_params:
                params.append(jax.tree.map(lambda a: np.asarray(a)[:keep], state.params))
            if on_batch_done is not None:
                on_batch_done(b, idx, batch_curves, state)
            if on_progress is not None:
                on_progress(_assemble(cfg, grid, steps, curves, diverged, diverged_step, params))
    if bar is not None:
        bar.close()
    return _assemble(cfg, grid, steps, curves, diverged, diverged_step, params)


def _assemble(cfg, grid, steps, curves, diverged, diverged_step, params) -> SweepResult:
    """The result of the batches finished so far (runs 0..n-1: batches run in order)."""
    n = sum(len(d) for d in diverged)
    return SweepResult(
        cfg=cfg, grid={k: v[:n] for k, v in grid.items()}, steps=steps,
        curves={k: np.concatenate(v) for k, v in curves.items()},
        diverged=np.concatenate(diverged), diverged_step=np.concatenate(diverged_step),
        params=jax.tree.map(lambda *a: np.concatenate(a), *params) if params else None)


def _restore(trainer: BatchTrainer, hp: dict, n_points: int, store: BatchCheckpoints | None):
    """The batch's latest checkpoint (grokjax.checkpoint.store.Resumed), or None."""
    if store is None:
        return None
    abstract = jax.eval_shape(trainer.init, hp)  # the state's structure and shardings, nothing computed
    names = list(jax.eval_shape(trainer.evaluate, abstract, hp))
    return store.restore(abstract, names, n_points)


def train_batch(trainer: BatchTrainer, hp: dict, steps: np.ndarray, bar=None,
                store: BatchCheckpoints | None = None, rows: int | None = None,
                stop_request: interrupt.StopRequest | None = None, stream=None) -> tuple[dict, RunState]:
    """One batch of runs through the whole evaluation schedule, from `store`'s latest checkpoint if any.
    `rows`: full-batch row slots, at least the batch's largest n_train (None: the trainer's default).
    Once `stop_request` is set (Ctrl-C, SIGTERM), checkpoints the chunk just finished and raises KeyboardInterrupt.
    `stream` (grokjax.train.live.BatchStream) gets the points restored and each new one."""
    cfg = trainer.cfg
    resumed = _restore(trainer, hp, len(steps), store)
    if resumed is None:
        state = trainer.init(hp)
        first = jax.device_get(trainer.evaluate(state, hp))
        n_runs = len(first["val_acc"])
        curves = {k: np.full((n_runs, len(steps)), np.nan, np.float32) for k in first}
        for k, v in first.items():
            curves[k][:, 0] = v
        t0, finished = 0, False
        if store is not None:
            store.after_eval(0, 0, state, curves, done=False)
    else:
        state, curves, t0, finished = resumed
    if stream is not None:
        stream.begin(curves, t0)  # the stream now holds exactly the points restored (or the first)
    if bar is not None:
        bar.update(int(cfg.steps if finished else steps[t0]))
    if finished:
        return curves, state
    # The host state of the loop is a function of the curves, so a resumed batch continues exactly.
    best_val = np.max(np.nan_to_num(curves["val_acc"][:, :t0 + 1]), axis=1)
    interrupted = stop_request if stop_request is not None else interrupt.StopRequest()
    for t in range(t0 + 1, len(steps)):
        n_steps = int(steps[t] - steps[t - 1])
        state, metrics = trainer.chunk(n_steps, rows)(state, hp)
        metrics = jax.device_get(metrics)
        for k, v in metrics.items():
            curves[k][:, t] = v
        if stream is not None:
            stream.record(t, metrics)
        if bar is not None:
            bar.update(n_steps)
            bar.set_postfix(val_acc=f"{np.nanmean(metrics['val_acc']):.3f}", refresh=False)
        best_val = np.maximum(best_val, np.nan_to_num(metrics["val_acc"]))
        done = (best_val >= cfg.early_stop_val_acc) | np.asarray(state.diverged)
        stop = cfg.early_stop_val_acc > 0 and done.all()
        # Saves are collective: a signal that reached some processes stops all of them here.
        interrupt_now = devices.any_process(bool(interrupted))
        if store is not None:
            store.after_eval(t, int(steps[t]), state, curves, done=stop or t == len(steps) - 1,
                             force=interrupt_now)
        if interrupt_now:
            raise KeyboardInterrupt(f"stopped at step {int(steps[t])}" + (
                ", checkpointed: rerun the same command to resume" if store is not None else ""))
        if stop:
            if bar is not None:
                bar.update(int(cfg.steps - steps[t]))
            break
    return curves, state
