"""Doshi et al. (2024) eq. 2 / Appendix D: the periodic weights that solve modular addition.

    U_ki = A cos(2 pi/p i s_k + phi_k^u),   V_kj = A cos(2 pi/p j s_k + phi_k^v),
    W_qk = A cos(-2 pi/p q s_k - phi_k^u - phi_k^v),   s_k = sigma(k), sigma in S_N random.

Amplitude. Eq. 2 prints A = (2/N)^(-1/3), but Appendix D writes the network output
as (2/N) sum_k cos(...) (cos + cos)^2, i.e. A^3 = 2/N, so A = (2/N)^(+1/3): the boxed
term of eq. 6 then sums to f_q(m, n) = (1/N) sum_k cos(2 pi/p s_k (m + n - q)) ~ delta,
the one-hot target the MSE loss wants. With the printed exponent the outputs are
(N/2)^2 times larger: the argmax (accuracy) is the same, the MSE loss is not. We use
+1/3 (`amplitude()`); tests check that the correct logit is ~1 and the others ~0.
"""
from __future__ import annotations

import numpy as np


def amplitude(width: int) -> float:
    """A = (2/N)^(1/3), so that A^3 = 2/N as in Appendix D (see the module docstring)."""
    return (2.0 / width) ** (1.0 / 3.0)


def analytic_params(p: int, width: int, seed: int = 0, n_classes: int | None = None) -> dict[str, np.ndarray]:
    """The eq. 2 weights in the layout of grokjax.models.mlp: U, V (N, p), W (p, N), float32.

    sigma is a random permutation of 1..N (so frequencies s_k mod p are spread over
    all residues); phases are i.i.d. uniform on (-pi, pi].
    """
    rng = np.random.default_rng(seed)
    n_classes = n_classes or p
    s_N = rng.permutation(width) + 1
    phi_u, phi_v = -rng.uniform(-np.pi, np.pi, (2, width))  # -U[-pi, pi) = U(-pi, pi]
    a = amplitude(width)
    i_P = np.arange(p)
    angle_NxP = 2 * np.pi / p * np.outer(s_N, i_P)
    U = a * np.cos(angle_NxP + phi_u[:, None])
    V = a * np.cos(angle_NxP + phi_v[:, None])
    angle_QxN = 2 * np.pi / p * np.outer(np.arange(n_classes), s_N)
    W = a * np.cos(-angle_QxN - (phi_u + phi_v)[None, :])
    return {k: v.astype(np.float32) for k, v in {"U": U, "V": V, "W": W}.items()}


def mlp_outputs(params: dict, m, n) -> np.ndarray:
    """f(m, n) = W (U e_m + V e_n)^2 of eq. 1 with quadratic activation, (B, p), in numpy."""
    h_BxN = np.asarray(params["U"])[:, m].T + np.asarray(params["V"])[:, n].T
    return np.square(h_BxN) @ np.asarray(params["W"]).T


def analytic_accuracy(p: int, width: int, seed: int = 0) -> float:
    """Accuracy of the eq. 2 network on all p^2 pairs of (m + n) mod p."""
    m, n = np.divmod(np.arange(p * p), p)
    out = mlp_outputs(analytic_params(p, width, seed), m, n)
    return float(np.mean(np.argmax(out, -1) == (m + n) % p))
