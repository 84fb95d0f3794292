"""Doshi et al. (2024) eq. 3-4: inverse participation ratio (IPR) of weight Fourier spectra.

    IPR(x) = (||x~||_{2r} / ||x~||_2)^{2r},  r = 2,  x~ = |rfft(x)|

The transform is the one-sided real FFT magnitude (DC included), as in the
authors' code (``calculate_ipr(np.absolute(np.fft.rfft(U[k])), r)``): a pure
cosine of any frequency then has IPR exactly 1, and a flat spectrum has IPR
1 / (p // 2 + 1). With ``onesided=False`` the full complex DFT is used (the
paper's text, eq. 3): a cosine at frequency f != 0 then has IPR 1/2.

Per-neuron IPR (eq. 4) averages rows of U, V (N, p) and columns of W (p, N).
Every function takes arrays with any leading batch axes (e.g. a sweep's run axis).
"""
from __future__ import annotations

import numpy as np

R_DEFAULT = 2


def ipr(x, axis: int = -1, r: int = R_DEFAULT, onesided: bool = True) -> np.ndarray:
    """IPR of the Fourier spectrum of each vector along `axis` (NaN for a zero vector)."""
    x = np.asarray(x, np.float64)
    spectrum = np.abs(np.fft.rfft(x, axis=axis) if onesided else np.fft.fft(x, axis=axis))
    power = np.square(spectrum)
    total = power.sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sum(np.power(power, r), axis=axis) / np.power(total, r)


def neuron_ipr(params: dict, r: int = R_DEFAULT, onesided: bool = True) -> dict[str, np.ndarray]:
    """Per-neuron IPR of the eq. 1 MLP: {'U', 'V', 'W', 'neuron'} arrays of shape (..., N).

    'U' and 'V' are the IPRs of rows U[k, :], V[k, :]; 'W' of columns W[:, k];
    'neuron' is their mean (eq. 4). Works for any width, batch axes and for
    deeper MLPs (U, V are the input layer, W the output layer).
    """
    out = {"U": ipr(params["U"], -1, r, onesided), "V": ipr(params["V"], -1, r, onesided),
           "W": ipr(params["W"], -2, r, onesided)}
    out["neuron"] = (out["U"] + out["V"] + out["W"]) / 3.0
    return out


def mean_ipr(params: dict, r: int = R_DEFAULT) -> np.ndarray:
    """The network's mean IPR over hidden neurons, E_k[IPR_k] (Figure 2a), shape (...)."""
    return np.nanmean(neuron_ipr(params, r)["neuron"], axis=-1)


def embedding_ipr(params: dict, n_elements: int, r: int = R_DEFAULT) -> np.ndarray:
    """IPR of the neurons connected to the input (embedding) layer, shape (..., width).

    MLP (any depth): the eq. 4 mean over the rows of U and V (Figure 14's input
    layer). Transformer: each embedding dimension is a function of the operand
    token, so the IPR is taken over the first `n_elements` rows (the number
    tokens, not OP/EQ) of the token embedding, one value per column (Figure 7).
    """
    if "U" in params:
        return (ipr(params["U"], -1, r) + ipr(params["V"], -1, r)) / 2.0
    tokens = np.asarray(params["embed"]["tokens"])[..., :n_elements, :]
    return ipr(tokens, -2, r)


def output_ipr(params: dict, r: int = R_DEFAULT) -> np.ndarray:
    """IPR of the output-layer columns W[:, k] (MLP) or unembedding rows (transformer), (..., width).

    A transformer with tied embeddings has the embedding's IPR here (one shared matrix)."""
    if "W" in params:
        return ipr(params["W"], -2, r)
    from grokjax.models.transformer import unembedding  # local: keeps this module numpy-only
    return ipr(unembedding(params), -1, r)


def histogram(values: np.ndarray, bins: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """Counts of IPR values on [0, 1] (the range of eq. 3), ignoring NaN."""
    values = np.asarray(values).ravel()
    return np.histogram(values[np.isfinite(values)], bins=bins, range=(0.0, 1.0))
