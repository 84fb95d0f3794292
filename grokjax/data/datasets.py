"""The examples a sweep trains on: one array of inputs and one of targets.

Every task becomes a `Dataset`: an operation table (inputs are the operand
pairs), and, for Omnigrok, images, token sequences or graphs. The engine only
needs `inputs[rows]` and `targets[rows]`; the per-run split into train and
validation rows is traced (grokjax.data.splits).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from grokjax.data.operations import OperationTable, make_table


@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
    name: str
    inputs: np.ndarray  # (n, ...) model inputs; a pytree of such arrays also works
    targets: np.ndarray  # (n,) int class ids, or (n, d) float regression targets
    n_classes: int  # 0 for regression
    # Rows that are never trained on (e.g. a fixed test set); None: the split is all random.
    held_out: np.ndarray | None = None

    @property
    def size(self) -> int:
        return int(self.targets.shape[0])

    @property
    def is_classification(self) -> bool:
        return self.n_classes > 0


def table_dataset(table: OperationTable) -> Dataset:
    """An operation table as a dataset: inputs (n, 2) = [x, y], targets z."""
    inputs = np.stack([table.x, table.y], axis=1).astype(np.int32)
    return Dataset(name=f"{table.name}_p{table.p}", inputs=inputs, targets=np.asarray(table.z, np.int32),
                   n_classes=table.n_elements)


def operation_dataset(op: str, p: int) -> Dataset:
    return table_dataset(make_table(op, p))
