"""Power et al. (2022) Figure 3: t-SNE of the output layer's rows and what colours them.

The output layer maps the final hidden state to one logit per answer symbol; its row
for symbol c is c's output embedding. Figure 3 (left) colours S5's rows by cosets of
the subgroup <(0,3)(1,4), (1,2)(3,4)> (order 10); (right) colours Z_p's rows by the
residue mod 8 and draws the lines c -> c + 8.
"""
from __future__ import annotations

import numpy as np

from grokjax.data.operations import S5_ORDER, s5_compose, s5_elements, s5_index, s5_inverse

# The subgroup named in the Figure 3 caption, as generators in cycle notation.
FIGURE3_GENERATORS = (((0, 3), (1, 4)), ((1, 2), (3, 4)))


def output_rows(params: dict) -> np.ndarray:
    """(n_symbols, width) output-layer rows of a transformer or a Doshi MLP (one run)."""
    if "unembed" in params or "embed" in params:  # transformer, with its own or a tied unembedding
        from grokjax.models.transformer import unembedding
        return np.asarray(unembedding(params)).T
    if "W" in params:  # MLP: W (p, N) maps the hidden layer to the p outputs
        return np.asarray(params["W"])
    raise ValueError(f"no output layer among the parameters {sorted(params)}")


def permutation_from_cycles(cycles, n: int = 5) -> np.ndarray:
    """Cycle notation ((0, 3), (1, 4)) -> array perm with i -> perm[i]."""
    perm = np.arange(n)
    for cycle in cycles:
        for a, b in zip(cycle, cycle[1:] + cycle[:1]):
            perm[a] = b
    return perm


def generated_subgroup(generators) -> np.ndarray:
    """Sorted S5 element indices of the subgroup the permutations `generators` generate."""
    gens = [np.asarray(g) for g in generators]
    members = {int(s5_index(np.arange(5)))}
    frontier = [np.arange(5)]
    while frontier:
        new = []
        for g in frontier:
            for h in gens:
                c = s5_compose(g, h)
                i = int(s5_index(c))
                if i not in members:
                    members.add(i)
                    new.append(c)
        frontier = new
    return np.asarray(sorted(members))


def figure3_subgroup() -> np.ndarray:
    return generated_subgroup([permutation_from_cycles(c) for c in FIGURE3_GENERATORS])


def coset_labels(subgroup: np.ndarray, side: str = "left") -> np.ndarray:
    """(120,) coset id of every S5 element: g H (left) or H g (right), ids 0..119/|H|-1."""
    elems = s5_elements()
    h = elems[subgroup]  # (|H|, 5)
    g = elems[:, None, :]
    products = s5_compose(g, h[None]) if side == "left" else s5_compose(h[None], g)
    canonical = s5_index(products).min(axis=1)  # smallest member names the coset
    return np.unique(canonical, return_inverse=True)[1]


def conjugate_subgroups(subgroup: np.ndarray) -> list[np.ndarray]:
    """The distinct conjugates g H g^-1 of a subgroup (sorted index arrays), H itself first."""
    elems = s5_elements()
    found = {tuple(subgroup.tolist()): subgroup}
    for g in elems:
        conj = np.sort(s5_index(s5_compose(s5_compose(g[None], elems[subgroup]), s5_inverse(g)[None])))
        found.setdefault(tuple(conj.tolist()), conj)
    return list(found.values())


def best_conjugate_cosets(rows: np.ndarray, subgroup: np.ndarray) -> tuple[np.ndarray, int, str, float]:
    """The cosets (of H or a conjugate, left or right) that the rows' nearest neighbours follow best.

    The Figure 3 caption: each cluster is a coset of H "or one of its conjugates"; a network
    may follow any of them. Returns (labels, conjugate index, side, nearest-neighbour agreement).
    The best of 12 labelings is biased upward: compare with chance_agreement, not exactly.
    """
    best = None
    for i, conj in enumerate(conjugate_subgroups(subgroup)):
        for side in ("left", "right"):
            labels = coset_labels(conj, side)
            score = neighbor_agreement(rows, labels)
            if best is None or score > best[3]:
                best = (labels, i, side, score)
    return best


def tsne(rows: np.ndarray, seed: int = 0, perplexity: float = 30.0) -> np.ndarray:
    """2-D t-SNE of the rows (scikit-learn); perplexity is capped for small tables."""
    from sklearn.manifold import TSNE

    perplexity = min(perplexity, (len(rows) - 1) / 3)
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(
        np.asarray(rows, np.float64))


def neighbor_agreement(points: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of points whose nearest other point has the same label."""
    d = np.linalg.norm(points[:, None] - points[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    return float(np.mean(labels[np.argmin(d, axis=1)] == labels))


def chance_agreement(labels: np.ndarray) -> float:
    """Expected neighbor_agreement if the nearest neighbour were a uniformly random other point."""
    _, counts = np.unique(labels, return_counts=True)
    return float(np.sum(counts * (counts - 1)) / (len(labels) * (len(labels) - 1)))


def shift_distance_ratio(points: np.ndarray, shift: int = 8) -> float:
    """Mean distance from c to c + shift (mod n) over the mean distance between distinct points.

    Below 1: adding `shift` moves a symbol to a nearby point (Figure 3's +8 'number line').
    """
    n = len(points)
    d = np.linalg.norm(points[:, None] - points[None], axis=-1)
    return float(np.mean(d[np.arange(n), (np.arange(n) + shift) % n]) / (d.sum() / (n * (n - 1))))


def s5_embedding_report(rows: np.ndarray, points: np.ndarray) -> dict[str, float]:
    """Coset structure of S5 output rows in the t-SNE plane and in the original space."""
    assert len(rows) == S5_ORDER
    subgroup = figure3_subgroup()
    out = {}
    for side in ("left", "right"):
        labels = coset_labels(subgroup, side)
        out[f"{side}_coset_nn_tsne"] = neighbor_agreement(points, labels)
        out[f"{side}_coset_nn_rows"] = neighbor_agreement(rows, labels)
    out["coset_nn_chance"] = chance_agreement(coset_labels(subgroup))
    labels, index, side, score = best_conjugate_cosets(rows, subgroup)
    out.update(best_conjugate_index=index, best_conjugate_side=side, best_conjugate_coset_nn_rows=score,
               best_conjugate_coset_nn_tsne=neighbor_agreement(points, labels))
    return out


def modular_embedding_report(rows: np.ndarray, points: np.ndarray, shift: int = 8) -> dict[str, float]:
    labels = np.arange(len(rows)) % shift
    return {"residue_nn_tsne": neighbor_agreement(points, labels),
            "residue_nn_rows": neighbor_agreement(rows, labels),
            "residue_nn_chance": chance_agreement(labels),
            f"plus{shift}_distance_ratio_tsne": shift_distance_ratio(points, shift),
            f"plus{shift}_distance_ratio_rows": shift_distance_ratio(rows, shift)}
