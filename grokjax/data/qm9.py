"""QM9 polarizability for Omnigrok Figure 5: the real xyz archive, or a synthetic offline stand-in.

    qm9_dataset("qm9", cache_dir=...)   # dsgdb9nsd.xyz.tar.bz2 in cache_dir/qm9 (download_qm9 fetches it)
    qm9_dataset("synthetic")            # generated molecule-like graphs, NOT QM9: labeled so everywhere

Each molecule is a padded graph: inputs {"nodes": (n, A, 5) one-hot H/C/N/O/F,
"adj": (n, A, A) GCN-normalized adjacency with self loops, "mask": (n, A)}.
Bonds are atom pairs closer than 1.15 x the sum of covalent radii. The target
is the isotropic polarizability (column 7 of the xyz property line, Bohr^3),
standardized with the training pool's mean and std (so MSE is in units of
its variance). App. A: a 50/50 train/test split; `frac` picks the
training molecules from the first half.
"""
from __future__ import annotations

import os
import tarfile

import numpy as np

from grokjax.data.datasets import Dataset
from grokjax.data.mnist import DEFAULT_CACHE, download_verified

QM9_URLS = ("https://ndownloader.figshare.com/files/3195389",
            "https://springernature.figshare.com/ndownloader/files/3195389")
QM9_MD5 = "ad1ebd51ee7f5b3a6e32e974e5d54012"  # as published by figshare for file 3195389
QM9_ARCHIVE = "dsgdb9nsd.xyz.tar.bz2"
ELEMENTS = ("H", "C", "N", "O", "F")
COVALENT_RADIUS = {"H": 0.31, "C": 0.76, "N": 0.71, "O": 0.66, "F": 0.57}
MAX_ATOMS = 29
SOURCES = ("synthetic", "qm9")


def download_qm9(cache_dir: str = DEFAULT_CACHE) -> str:
    return download_verified(QM9_URLS, os.path.join(cache_dir, "qm9", QM9_ARCHIVE), QM9_MD5)


def _float(text: str) -> float:
    return float(text.replace("*^", "e"))  # the archive writes some exponents Mathematica-style


def parse_xyz(text: str) -> tuple[list[str], np.ndarray, float]:
    """(elements, coordinates (n, 3) in Angstrom, isotropic polarizability) of one QM9 xyz file."""
    lines = text.splitlines()
    n = int(lines[0])
    props = lines[1].split()
    atoms = [line.split() for line in lines[2:2 + n]]
    coords = np.asarray([[_float(v) for v in a[1:4]] for a in atoms], np.float32)
    return [a[0] for a in atoms], coords, _float(props[6])


def molecule_graph(elements: list[str], coords: np.ndarray, max_atoms: int = MAX_ATOMS):
    """(nodes (A, 5), normalized adjacency (A, A), mask (A,)) with bonds by covalent radii."""
    n = len(elements)
    radii = np.asarray([COVALENT_RADIUS[e] for e in elements])
    dist = np.linalg.norm(coords[:, None] - coords[None], axis=-1)
    bonds = (dist < 1.15 * (radii[:, None] + radii[None])) & ~np.eye(n, dtype=bool)
    return graph_arrays([ELEMENTS.index(e) for e in elements], bonds, max_atoms)


def graph_arrays(types: list[int], bonds: np.ndarray, max_atoms: int):
    n = len(types)
    nodes = np.zeros((max_atoms, len(ELEMENTS)), np.float32)
    nodes[np.arange(n), types] = 1.0
    a_hat = np.zeros((max_atoms, max_atoms), np.float32)
    a_hat[:n, :n] = bonds | np.eye(n, dtype=bool)
    inv_sqrt_deg = np.zeros(max_atoms, np.float32)
    inv_sqrt_deg[:n] = 1.0 / np.sqrt(a_hat[:n, :n].sum(1))
    mask = np.arange(max_atoms) < n
    return nodes, a_hat * inv_sqrt_deg[:, None] * inv_sqrt_deg[None], mask


def read_qm9_archive(path: str, limit: int = 0):
    """Graphs and polarizabilities of the first `limit` (0 = all) molecules in the archive."""
    graphs, targets = [], []
    with tarfile.open(path) as tar:
        for member in tar:
            if not member.isfile() or not member.name.endswith(".xyz"):
                continue
            elements, coords, alpha = parse_xyz(tar.extractfile(member).read().decode())
            graphs.append(molecule_graph(elements, coords))
            targets.append(alpha)
            if limit and len(targets) >= limit:
                break
    return graphs, np.asarray(targets, np.float32)


def synthetic_molecules(n: int, *, max_atoms: int = 12, seed: int = 0):
    """Random connected graphs of 4..max_atoms typed atoms; target: an additive group-contribution
    'polarizability' (per-element and per-bond terms, plus a nonlinear size term and noise)."""
    rng = np.random.default_rng(seed)
    atom_term = np.array([0.7, 8.0, 6.5, 5.0, 3.5])
    graphs, targets = [], []
    for _ in range(n):
        size = int(rng.integers(4, max_atoms + 1))
        types = rng.choice(len(ELEMENTS), size, p=[0.45, 0.35, 0.08, 0.1, 0.02]).tolist()
        bonds = np.zeros((size, size), bool)
        for i in range(1, size):  # a random tree keeps it connected, plus a few rings
            j = int(rng.integers(0, i))
            bonds[i, j] = bonds[j, i] = True
        for _ in range(int(rng.integers(0, 3))):
            i, j = rng.integers(0, size, 2)
            if i != j:
                bonds[i, j] = bonds[j, i] = True
        heavy = [t != 0 for t in types]
        heavy_bonds = sum(bonds[i, j] and heavy[i] and heavy[j] for i in range(size) for j in range(i))
        targets.append(atom_term[types].sum() + 1.5 * heavy_bonds + 0.05 * sum(heavy) ** 2 + rng.normal(0, 0.5))
        graphs.append(graph_arrays(types, bonds, max_atoms))
    return graphs, np.asarray(targets, np.float32)


def qm9_dataset(source: str = "synthetic", *, n_pool: int = 1000, n_test: int = 1000, seed: int = 0,
                cache_dir: str = DEFAULT_CACHE, download: bool = False) -> Dataset:
    """n_pool training molecules plus n_test held-out ones; regression target (n, 1), standardized."""
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    if source == "qm9":
        path = download_qm9(cache_dir) if download else os.path.join(cache_dir, "qm9", QM9_ARCHIVE)
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path} not found; run grokjax.data.qm9.download_qm9() online")
        graphs, targets = read_qm9_archive(path)
        order = np.random.default_rng(seed).permutation(len(targets))
        half = len(order) // 2  # App. A: 50/50 train/test
        pick = np.concatenate([order[:min(n_pool, half)], order[half:][:n_test or None]])
        graphs, targets = [graphs[i] for i in pick], targets[pick]
        n_pool, name = min(n_pool, half), "qm9_polarizability"
    else:
        graphs, targets = synthetic_molecules(n_pool + n_test, seed=seed)
        name = "synthetic_molecules (QM9 stand-in, generated)"
    nodes, adj, mask = (np.stack(parts) for parts in zip(*graphs))
    pool = targets[:n_pool]  # statistics of the training pool only: nothing leaks from the test set
    targets = (targets - pool.mean()) / (pool.std() or 1.0)  # a pool of one molecule has no spread
    held_out = np.arange(len(targets)) >= n_pool
    return Dataset(name=name, inputs={"nodes": nodes, "adj": adj, "mask": mask},
                   targets=targets[:, None].astype(np.float32), n_classes=0, held_out=held_out)
