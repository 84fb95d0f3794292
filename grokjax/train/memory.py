"""Memory a sweep needs, estimated from its configuration before anything is allocated.

Lower bounds only (what they refuse cannot fit; what they pass may still be lowered to fewer runs
per batch by --memory_budget_gb): the operation table (p^2 rows, built on the host, plus one run's
outputs on the whole table) against the machine's memory, before the table is made; then one run's
parameters, gradients and optimizer state, first counted from the settings alone, then from
jax.eval_shape of its init, plus its activations, against --memory_budget_gb, or the machine's
memory without it. Nothing is allocated. Refusals are one line giving the estimate.
"""
from __future__ import annotations

import os

from grokjax.errors import ConfigError

GIB = 2 ** 30
TABLE_BYTES_PER_ROW = 36  # x, y, z built as int64, kept as int32
FLOAT_BYTES = 4


def machine_bytes() -> float | None:
    """The machine's physical memory (os.sysconf), None where it cannot be read."""
    try:
        return float(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def _gib(n: float) -> str:
    return f"{n / GIB:.3g} GiB" if n < 1e6 * GIB else f"{n / GIB:.2e} GiB"


def _check_machine_fits(need: float, flag: str, what: str) -> None:
    """ConfigError (one line) if `need` bytes for `what` exceed the machine's memory."""
    have = machine_bytes()
    if have is not None and need > have:
        raise ConfigError(f"{flag} needs at least {_gib(need)} for {what}; this machine has {_gib(have)}")


def check_table_fits(rows: int, n_classes: int, flag: str) -> None:
    """The table of `rows` examples, and one run's outputs over it, against the machine's memory."""
    _check_machine_fits(rows * (TABLE_BYTES_PER_ROW + FLOAT_BYTES * n_classes), flag,
                        f"the operation table ({rows:.3g} rows) and one run's outputs on it")


def check_layers_fit(sizes: list[int], flag: str, copies: int = 1) -> None:
    """A dense network of these layer sizes (`copies` of its parameters: e.g. a teacher, or a run's
    parameters, gradient and Adam moments) against the machine's memory, before it is built."""
    _check_machine_fits(copies * FLOAT_BYTES * sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:])), flag,
                        f"the {'-'.join(map(str, sizes))} network's parameters")


def min_params(cfg, n_classes: int) -> int:
    """A lower bound on the parameter count from the settings alone: the input and output layers
    and, for several layers, the width x width matrices between them."""
    width, depth = cfg.width, cfg.depth
    if cfg.model == "transformer":
        return depth * 4 * width * width + 2 * n_classes * width
    return 3 * n_classes * width + (depth - 1) * width * width


def run_bytes(cfg, fns, grid: dict, dataset) -> tuple[int, int]:
    """(state, activations) bytes of one run: state = parameters, optimizer state and the run's data
    (jax.eval_shape of its init) plus one gradient; activations = hidden units and outputs of every
    row of the table (evaluation is on the whole table)."""
    import jax
    import numpy as np

    one = {k: np.asarray(v)[:1] for k, v in grid.items()}
    state = jax.eval_shape(jax.vmap(fns.init), one)
    size = lambda tree: sum(a.size * a.dtype.itemsize for a in jax.tree.leaves(tree))  # noqa: E731
    params = getattr(state, "params", None)
    state_bytes = size(state) + (size(params) if params is not None else 0)
    inputs = np.asarray(jax.tree.leaves(dataset.inputs)[0])
    positions = inputs.shape[1] if cfg.model == "transformer" and inputs.ndim > 1 else 1
    hidden = cfg.width * cfg.depth * positions
    outputs = max(dataset.n_classes, 1)
    return int(state_bytes), int(dataset.size * (hidden + outputs) * FLOAT_BYTES)


def check_run_fits(cfg, grid: dict, dataset, budget_gb: float, run_fns) -> None:
    """ConfigError (one line with the estimate) if one run cannot fit --memory_budget_gb (GiB per
    device), or the machine's memory when that is 0. `run_fns()`: the sweep's RunFns (built only when
    the settings alone do not already refuse; grokjax.train.sweep.check_run_memory passes them)."""
    have = budget_gb * GIB if budget_gb > 0 else machine_bytes()
    if have is None:
        return
    # Parameters, their gradient and two Adam moments, before any shape is traced (a huge
    # --depth would take long to trace, a huge --width would overflow the shapes).
    state = 4 * FLOAT_BYTES * min_params(cfg, max(dataset.n_classes, 1))
    activations = 0
    where = f"--memory_budget_gb={budget_gb:g}" if budget_gb > 0 else f"this machine's {_gib(have)}"
    # The flags that size a run; --p only where it sizes the data (a Z_p operation table).
    sizes = f"--width={cfg.width}, --depth={cfg.depth}" + (f", --p={cfg.p}" if dataset.n_classes == cfg.p else "")
    if state <= have:
        try:
            state, activations = run_bytes(cfg, run_fns(), grid, dataset)
        except OverflowError:  # a script's own model, whose shapes the bound above does not know
            raise ConfigError(f"one run's parameter shapes overflow a 64-bit size ({sizes}); far more than "
                              f"{where}") from None
    if state + activations > have:
        parts = f"parameters, gradients and optimizer state {_gib(state)}" + \
            (f", activations {_gib(activations)}" if activations else "")
        raise ConfigError(f"one run needs at least {_gib(state + activations)} ({parts}: {sizes}); "
                          f"that is more than {where}")
