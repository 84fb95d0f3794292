"""Binary-operation tables for grokking experiments.

Implements the operations of Power et al. 2022, "Grokking: Generalization
Beyond Overfitting on Small Algorithmic Datasets", Appendix A.1.1 (nine
modular operations for a prime p, three operations on the symmetric group
S5), plus plain modular multiplication ``mul`` as used by Doshi et al. 2024,
"To Grok or Not to Grok" (Appendix, z = mn mod p).

Every table lists all equations ``x o y = z`` with rows ordered by x then y
(row-major).  Operands and answers are element *indices*: residues 0..p-1
for modular operations, rows of :func:`s5_elements` for S5 operations.

S5 convention: a permutation is an array ``perm`` of shape (5,) mapping
``i -> perm[i]``; composition ``(a . b)[i] = a[b[i]]`` applies ``b`` first.
Pure numpy; no jax needed.
"""

from __future__ import annotations

import dataclasses
import itertools
import numbers

import numpy as np

__all__ = [
    "OperationSpec",
    "OperationTable",
    "OPERATIONS",
    "operation_names",
    "is_prime",
    "make_table",
    "s5_elements",
    "s5_compose",
    "s5_inverse",
    "s5_index",
    "S5_ORDER",
]

S5_ORDER = 120


# eq=False: the generated __eq__/__hash__ would compare/hash numpy arrays and
# fail; identity semantics are the useful ones for a table object.
@dataclasses.dataclass(frozen=True, eq=False)
class OperationTable:
    """All equations ``x o y = z`` of one operation, as parallel int32 arrays."""

    name: str
    p: int  # modulus (120, the group order, for S5 operations)
    x: np.ndarray  # (n,) int32 left operand index
    y: np.ndarray  # (n,) int32 right operand index
    z: np.ndarray  # (n,) int32 answer index
    n_elements: int  # distinct operand/answer symbols (p, or 120 for S5)

    def __post_init__(self) -> None:
        n = self.x.shape[0]
        for field in ("x", "y", "z"):
            arr = getattr(self, field)
            if arr.shape != (n,):
                raise ValueError(f"{field} has shape {arr.shape}; expected ({n},)")

    @property
    def size(self) -> int:
        """Number of rows (equations)."""
        return int(self.x.shape[0])


@dataclasses.dataclass(frozen=True)
class OperationSpec:
    """Registry metadata for one operation."""

    description: str  # short human-readable formula, for docs / CLI help
    needs_prime: bool  # uses modular inverses, so p must be prime
    is_group_s5: bool  # operands are S5 permutations; p is ignored


OPERATIONS: dict[str, OperationSpec] = {
    "add": OperationSpec("x + y (mod p)", False, False),
    "sub": OperationSpec("x - y (mod p)", False, False),
    "mul": OperationSpec("x * y (mod p)", False, False),
    "div": OperationSpec("x / y (mod p), 0 < y < p", True, False),
    "div_or_sub": OperationSpec("x / y (mod p) if y odd, else x - y (mod p)", True, False),
    "x2_plus_y2": OperationSpec("x^2 + y^2 (mod p)", False, False),
    "x2_xy_y2": OperationSpec("x^2 + xy + y^2 (mod p)", False, False),
    "x2_xy_y2_x": OperationSpec("x^2 + xy + y^2 + x (mod p)", False, False),
    "x3_xy": OperationSpec("x^3 + xy (mod p)", False, False),
    "x3_xy2_y": OperationSpec("x^3 + xy^2 + y (mod p)", False, False),
    "s5_mul": OperationSpec("x . y in S5", False, True),
    "s5_conj": OperationSpec("x . y . x^-1 in S5", False, True),
    "s5_xyx": OperationSpec("x . y . x in S5", False, True),
}


def operation_names() -> list[str]:
    """Names of all registered operations, in registry order."""
    return list(OPERATIONS)


def is_prime(n: int) -> bool:
    """Deterministic trial-division primality test (n is small here)."""
    if n < 2:
        return False
    if n < 4:
        return True
    if n % 2 == 0:
        return False
    f = 3
    while f * f <= n:
        if n % f == 0:
            return False
        f += 2
    return True


# ---------------------------------------------------------------- S5 helpers


def s5_elements() -> np.ndarray:
    """(120, 5) int32 permutations of range(5) in itertools.permutations order.

    Row index is the element's token index.
    """
    return np.array(list(itertools.permutations(range(5))), dtype=np.int32)


def s5_compose(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Composition ``a . b`` with ``(a . b)[i] = a[b[i]]`` (apply b first).

    Broadcasts over leading axes: a, b have shape (..., 5).
    """
    a, b = np.broadcast_arrays(np.asarray(a), np.asarray(b))
    return np.take_along_axis(a, b, axis=-1)


def s5_inverse(a: np.ndarray) -> np.ndarray:
    """Inverse permutation(s): ``s5_compose(a, s5_inverse(a))`` is the identity."""
    return np.argsort(np.asarray(a), axis=-1).astype(np.int32)


def s5_index(perms: np.ndarray) -> np.ndarray:
    """Map permutations of shape (..., 5) to their row index in :func:`s5_elements`."""
    perms = np.asarray(perms)
    # Encode each permutation as a base-5 number and look it up: vectorized,
    # no dict of tuples needed.
    weights = 5 ** np.arange(4, -1, -1)
    lookup = np.full(5**5, -1, dtype=np.int32)
    lookup[s5_elements() @ weights] = np.arange(S5_ORDER, dtype=np.int32)
    idx = lookup[perms @ weights]
    if np.any(idx < 0):
        raise ValueError("input contains arrays that are not permutations of range(5)")
    return idx


# ------------------------------------------------------------ table builders


def _modular(name: str, p: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # int64 and reduction after every product keep intermediates < p^2, so
    # no overflow for any p that fits an int32 token index.
    r = np.arange(p, dtype=np.int64)
    x, y = (a.ravel() for a in np.meshgrid(r, r, indexing="ij"))
    if name == "div":
        keep = y != 0  # division by zero is undefined; table has p(p-1) rows
        x, y = x[keep], y[keep]
    x2 = x * x % p
    if name == "add":
        z = x + y
    elif name == "sub":
        z = x - y
    elif name == "mul":
        z = x * y
    elif name in ("div", "div_or_sub"):
        # Inverse lookup by Fermat: y^(p-2); a loop over p values, not p^2.
        inv = np.zeros(p, dtype=np.int64)
        inv[1:] = [pow(v, p - 2, p) for v in range(1, p)]
        quot = x * inv[y]
        z = quot if name == "div" else np.where(y % 2 == 1, quot, x - y)
    elif name == "x2_plus_y2":
        z = x2 + y * y
    elif name == "x2_xy_y2":
        z = x2 + x * y % p + y * y
    elif name == "x2_xy_y2_x":
        z = x2 + x * y % p + y * y + x
    elif name == "x3_xy":
        z = x2 * x + x * y
    elif name == "x3_xy2_y":
        z = x2 * x + x * (y * y % p) + y
    else:  # pragma: no cover - guarded by the registry
        raise AssertionError(name)
    return x, y, np.mod(z, p)  # np.mod is non-negative for positive p (sub)


def _s5(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    elems = s5_elements()
    x, y = (a.ravel() for a in np.meshgrid(np.arange(S5_ORDER), np.arange(S5_ORDER), indexing="ij"))
    a, b = elems[x], elems[y]
    ab = s5_compose(a, b)
    if name == "s5_mul":
        c = ab
    elif name == "s5_conj":
        c = s5_compose(ab, s5_inverse(a))
    elif name == "s5_xyx":
        c = s5_compose(ab, a)
    else:  # pragma: no cover - guarded by the registry
        raise AssertionError(name)
    return x, y, s5_index(c)


def make_table(name: str, p: int = 97) -> OperationTable:
    """Build the full table of ``name`` (rows ordered by x, then y).

    For S5 operations ``p`` is ignored and the table has ``p == n_elements == 120``.
    Raises a one-line ``ValueError`` for unknown names, p < 2, or a
    non-prime p for operations that need modular inverses.
    """
    if name not in OPERATIONS:
        raise ValueError(f"unknown operation {name!r}; allowed: {', '.join(OPERATIONS)}")
    spec = OPERATIONS[name]
    if spec.is_group_s5:
        x, y, z = _s5(name)
        p = n_elements = S5_ORDER
    else:
        if isinstance(p, bool) or not isinstance(p, numbers.Integral):
            raise ValueError(f"p must be an integer, got {p!r}")
        p = int(p)
        if p < 2:
            raise ValueError(f"p={p} is too small; the modulus must be at least 2")
        if spec.needs_prime and not is_prime(p):
            raise ValueError(
                f"p={p} is not prime; operation {name!r} needs modular inverses "
                "(choose a prime p such as 97)"
            )
        x, y, z = _modular(name, p)
        n_elements = p
    arrays = []
    for arr in (x, y, z):
        arr = np.ascontiguousarray(arr, dtype=np.int32)
        arr.flags.writeable = False  # the dataclass is frozen; keep the data so too
        arrays.append(arr)
    x, y, z = arrays
    return OperationTable(name=name, p=p, x=x, y=y, z=z, n_elements=n_elements)
