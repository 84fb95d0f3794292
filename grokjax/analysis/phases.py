"""Doshi et al. (2024) Appendix C, Table 2: phases from train/test accuracy and xi."""
from __future__ import annotations

import numpy as np

PHASES = ("coexistence", "partial_inversion", "full_inversion", "memorization", "forgetting", "confusion")
GENERALIZED = 0.90  # the paper's 90% accuracy threshold


def classify_phase(train_acc, test_acc, xi, best_test_acc=None) -> np.ndarray:
    """Phase name per run (vectorized over equal-shaped arrays).

    test >= 90%: coexistence (train >= 90%), partial inversion (train in
    [1.05 - xi, 0.9)) or full inversion (train < 1.05 - xi). test < 90%:
    memorization (train >= 90%), else forgetting if the run had generalized
    earlier (best test accuracy >= 90%, then lost it) or confusion if it never did.
    """
    train_acc, test_acc, xi = np.broadcast_arrays(*(np.asarray(a, np.float64) for a in (train_acc, test_acc, xi)))
    best = test_acc if best_test_acc is None else np.asarray(best_test_acc, np.float64)
    generalizes = test_acc >= GENERALIZED
    fits = train_acc >= GENERALIZED
    phase = np.where(
        generalizes,
        np.where(fits, "coexistence", np.where(train_acc >= 1.05 - xi, "partial_inversion", "full_inversion")),
        np.where(fits, "memorization", np.where(best >= GENERALIZED, "forgetting", "confusion")))
    nan = np.isnan(train_acc) | np.isnan(test_acc)
    return np.where(nan, "diverged", phase)
