"""Tests for grokjax.data.operations (Power et al. 2022, App. A.1.1 tables)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from grokjax.data.operations import (
    OPERATIONS,
    OperationTable,
    is_prime,
    make_table,
    operation_names,
    s5_compose,
    s5_elements,
    s5_index,
    s5_inverse,
)

MODULAR_NAMES = [n for n in operation_names() if not OPERATIONS[n].is_group_s5]
S5_NAMES = [n for n in operation_names() if OPERATIONS[n].is_group_s5]


def _brute(name: str, x: int, y: int, p: int) -> int | None:
    """Reference definitions straight from the paper; None = row not in table."""
    if name == "add":
        return (x + y) % p
    if name == "sub":
        return (x - y) % p
    if name == "mul":
        return (x * y) % p
    if name == "div":
        return None if y == 0 else (x * pow(y, -1, p)) % p
    if name == "div_or_sub":
        return (x * pow(y, -1, p)) % p if y % 2 == 1 else (x - y) % p
    if name == "x2_plus_y2":
        return (x**2 + y**2) % p
    if name == "x2_xy_y2":
        return (x**2 + x * y + y**2) % p
    if name == "x2_xy_y2_x":
        return (x**2 + x * y + y**2 + x) % p
    if name == "x3_xy":
        return (x**3 + x * y) % p
    if name == "x3_xy2_y":
        return (x**3 + x * y**2 + y) % p
    raise AssertionError(name)


def test_registry_covers_paper_plus_mul():
    assert operation_names() == list(OPERATIONS)
    assert set(operation_names()) == {
        "add", "sub", "mul", "div", "div_or_sub", "x2_plus_y2", "x2_xy_y2",
        "x2_xy_y2_x", "x3_xy", "x3_xy2_y", "s5_mul", "s5_conj", "s5_xyx",
    }
    assert {n for n, s in OPERATIONS.items() if s.needs_prime} == {"div", "div_or_sub"}
    assert len(S5_NAMES) == 3
    assert all(isinstance(s.description, str) and s.description for s in OPERATIONS.values())


def test_is_prime():
    primes = {n for n in range(200) if n > 1 and all(n % d for d in range(2, n))}
    assert [n for n in range(-3, 200) if is_prime(n)] == sorted(primes)


@pytest.mark.parametrize("p", [5, 7, 97])
@pytest.mark.parametrize("name", MODULAR_NAMES)
def test_modular_matches_brute_force(name, p):
    t = make_table(name, p)
    rows = [(x, y, _brute(name, x, y, p)) for x in range(p) for y in range(p)]
    rows = [r for r in rows if r[2] is not None]  # row-major order, as the table
    expected = np.array(rows, dtype=np.int64)
    assert isinstance(t, OperationTable)
    assert (t.name, t.p, t.n_elements) == (name, p, p)
    assert t.size == len(rows)
    for arr in (t.x, t.y, t.z):
        assert arr.dtype == np.int32 and arr.shape == (t.size,)
    np.testing.assert_array_equal(np.stack([t.x, t.y, t.z], axis=1), expected)


@pytest.mark.parametrize("p", [2, 4, 9, 12])
def test_non_inverse_ops_accept_composite_p(p):
    for name in MODULAR_NAMES:
        if OPERATIONS[name].needs_prime:
            continue
        t = make_table(name, p)
        assert t.size == p * p
        expected = [_brute(name, x, y, p) for x in range(p) for y in range(p)]
        np.testing.assert_array_equal(t.z, expected)


@pytest.mark.parametrize("p", [2, 5, 97, 211])
def test_division_inverts_multiplication(p):
    t = make_table("div", p)
    assert t.size == p * (p - 1)
    assert np.all(t.y > 0)
    np.testing.assert_array_equal((t.y.astype(np.int64) * t.z) % p, t.x)


def test_default_p_is_97():
    assert make_table("add").p == 97
    assert make_table("add").size == 97 * 97


def test_tables_are_read_only():
    t = make_table("add", 5)
    with pytest.raises(ValueError):
        t.z[0] = 1


# ---------------------------------------------------------------- S5


def test_s5_elements():
    e = s5_elements()
    assert e.shape == (120, 5)
    np.testing.assert_array_equal(e, list(itertools.permutations(range(5))))
    np.testing.assert_array_equal(e[0], np.arange(5))  # identity is index 0
    np.testing.assert_array_equal(s5_index(e), np.arange(120))
    with pytest.raises(ValueError):
        s5_index(np.array([0, 0, 1, 2, 3]))


def test_s5_compose_convention():
    a = np.array([1, 2, 0, 3, 4])  # 0->1->2->0
    b = np.array([0, 1, 2, 4, 3])  # swap 3,4
    c = s5_compose(a, b)
    for i in range(5):
        assert c[i] == a[b[i]]  # b applied first
    np.testing.assert_array_equal(s5_compose(a, s5_inverse(a)), np.arange(5))
    np.testing.assert_array_equal(s5_compose(s5_inverse(a), a), np.arange(5))


def test_s5_group_axioms():
    t = make_table("s5_mul")
    assert (t.p, t.n_elements, t.size) == (120, 120, 120 * 120)
    # Make_table ignores p for S5.
    np.testing.assert_array_equal(make_table("s5_mul", p=7).z, t.z)
    table = t.z.reshape(120, 120)
    np.testing.assert_array_equal(t.x.reshape(120, 120), np.arange(120)[:, None].repeat(120, 1))
    np.testing.assert_array_equal(t.y.reshape(120, 120), np.arange(120)[None, :].repeat(120, 0))
    # Closure + Latin square: every row and column is a permutation of 0..119.
    assert table.min() >= 0 and table.max() < 120
    np.testing.assert_array_equal(np.sort(table, axis=0), np.arange(120)[:, None].repeat(120, 1))
    np.testing.assert_array_equal(np.sort(table, axis=1), np.arange(120)[None, :].repeat(120, 0))
    # Identity (index 0).
    np.testing.assert_array_equal(table[0], np.arange(120))
    np.testing.assert_array_equal(table[:, 0], np.arange(120))
    # Inverses: each a has a unique b with a.b = e = b.a, matching s5_inverse.
    inv = s5_index(s5_inverse(s5_elements()))
    np.testing.assert_array_equal(table[np.arange(120), inv], 0)
    np.testing.assert_array_equal(table[inv, np.arange(120)], 0)
    # Associativity on random triples.
    rng = np.random.default_rng(0)
    a, b, c = rng.integers(0, 120, size=(3, 2000))
    np.testing.assert_array_equal(table[table[a, b], c], table[a, table[b, c]])
    # Non-abelian, as S5 must be.
    assert not np.array_equal(table, table.T)


@pytest.mark.parametrize("name", S5_NAMES)
def test_s5_ops_match_direct_composition(name):
    t = make_table(name)
    e = s5_elements()
    lookup = {tuple(perm): i for i, perm in enumerate(e.tolist())}
    rng = np.random.default_rng(1)
    for row in rng.integers(0, t.size, size=500):
        a, b = e[t.x[row]], e[t.y[row]]
        ainv = [0] * 5
        for i, v in enumerate(a):
            ainv[v] = i
        ab = [a[b[i]] for i in range(5)]
        if name == "s5_mul":
            c = ab
        elif name == "s5_conj":
            c = [ab[ainv[i]] for i in range(5)]
        else:
            c = [ab[a[i]] for i in range(5)]
        assert t.z[row] == lookup[tuple(int(v) for v in c)]
    assert t.z.min() >= 0 and t.z.max() < t.n_elements == 120


def test_s5_conj_fixes_identity_and_xyx_properties():
    conj = make_table("s5_conj").z.reshape(120, 120)
    xyx = make_table("s5_xyx").z.reshape(120, 120)
    mul = make_table("s5_mul").z.reshape(120, 120)
    np.testing.assert_array_equal(conj[:, 0], 0)  # x e x^-1 = e
    np.testing.assert_array_equal(conj[0], np.arange(120))  # e y e = y
    squares = mul[np.arange(120), np.arange(120)]
    np.testing.assert_array_equal(xyx[:, 0], squares)  # x e x = x^2


# ------------------------------------------------------------- errors


def test_unknown_name_error():
    with pytest.raises(ValueError) as exc:
        make_table("foo")
    msg = str(exc.value)
    assert "\n" not in msg
    assert "'foo'" in msg
    for name in operation_names():
        assert name in msg


@pytest.mark.parametrize("name", ["div", "div_or_sub"])
def test_non_prime_error(name):
    with pytest.raises(ValueError) as exc:
        make_table(name, 98)
    msg = str(exc.value)
    assert msg == (
        f"p=98 is not prime; operation '{name}' needs modular inverses (choose a prime p such as 97)"
    )


@pytest.mark.parametrize("p", [1, 0, -5])
def test_small_p_error(p):
    with pytest.raises(ValueError, match=f"p={p}") as exc:
        make_table("add", p)
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize("p", [97.0, "97", True])
def test_non_integer_p_error(p):
    with pytest.raises(ValueError, match="integer"):
        make_table("add", p)


def test_numpy_integer_p_accepted():
    t = make_table("mul", np.int64(7))
    assert t.p == 7 and type(t.p) is int
