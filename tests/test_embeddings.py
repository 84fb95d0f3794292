"""Figure 3 helpers: the caption's subgroup, coset colouring, output rows and agreement scores."""
import numpy as np

from grokjax.analysis import embeddings as emb
from grokjax.data.operations import s5_compose, s5_elements, s5_inverse


def test_figure3_subgroup_is_a_subgroup_of_order_10_with_12_cosets():
    h = emb.figure3_subgroup()
    elems = s5_elements()
    assert len(h) == 10
    members = {tuple(elems[i]) for i in h}
    for a in h:  # closed under products and inverses
        assert tuple(s5_inverse(elems[a])) in members
        for b in h:
            assert tuple(s5_compose(elems[a], elems[b])) in members
    assert emb.permutation_from_cycles(((0, 3), (1, 4))).tolist() == [3, 4, 2, 0, 1]
    for side in ("left", "right"):
        labels = emb.coset_labels(h, side)
        assert np.bincount(labels).tolist() == [10] * 12
        assert len(set(labels[h])) == 1  # H itself is one coset


def test_left_cosets_are_g_times_h():
    h = emb.figure3_subgroup()
    labels = emb.coset_labels(h, "left")
    elems = s5_elements()
    g = elems[17]
    from grokjax.data.operations import s5_index
    coset = s5_index(s5_compose(g[None], elems[h]))
    assert len(set(labels[coset])) == 1 and labels[coset[0]] == labels[17]


def test_agreement_scores_find_planted_structure():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(12), 10)
    clustered = rng.normal(size=(12, 2))[labels] * 10 + rng.normal(size=(120, 2)) * 0.1
    assert emb.neighbor_agreement(clustered, labels) == 1.0
    assert abs(emb.chance_agreement(labels) - 9 / 119) < 1e-12
    angle = 2 * np.pi * (3 * np.arange(23) % 23) / 23  # 3 = 8^-1 mod 23: c + 8 sits one step further
    circle = np.stack([np.cos(angle), np.sin(angle)], 1)
    assert emb.shift_distance_ratio(circle, 8) < 0.3  # c -> c + 8 is one step along this circle


def test_output_rows_of_both_models():
    # (t-SNE itself runs in tests/test_power2022.py's embeddings figure.)
    params = {"unembed": {"w": np.arange(8 * 23, dtype=np.float32).reshape(8, 23)}}
    rows = emb.output_rows(params)
    assert rows.shape == (23, 8) and rows[1, 0] == 1
    assert emb.output_rows({"W": np.zeros((23, 5)), "U": np.zeros((5, 23))}).shape == (23, 5)
    report = emb.modular_embedding_report(rows, rows[:, :2])
    assert 0 <= report["residue_nn_rows"] <= 1


def test_conjugates_of_the_figure3_subgroup_and_the_best_matching_cosets():
    h = emb.figure3_subgroup()
    conjugates = emb.conjugate_subgroups(h)
    assert len(conjugates) == 6 and conjugates[0].tolist() == h.tolist()  # |S5| / |normalizer F20|
    assert all(len(k) == 10 for k in conjugates) and len({tuple(k) for k in conjugates}) == 6
    # Rows planted in clusters = right cosets of conjugate 3: found, with perfect agreement.
    rng = np.random.default_rng(0)
    planted = emb.coset_labels(conjugates[3], "right")
    rows = rng.normal(size=(12, 8))[planted] * 10 + rng.normal(size=(120, 8)) * 0.1
    labels, index, side, score = emb.best_conjugate_cosets(rows, h)
    assert (index, side, score) == (3, "right", 1.0) and (labels == planted).all()
