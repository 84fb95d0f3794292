"""Doshi et al. (2024) Figures 5 and 15: BatchNorm weights against the IPR of the neurons they scale.

The MLP (grokjax/models/mlp.py) puts a post-activation BatchNorm `batchnorm_i` after each
hidden layer i. Its weight gamma_k scales neuron k of that layer, so:

* depth 1 (eq. 5, Figure 5): `batchnorm_0` scales the eq. 1 neurons; their IPR is eq. 4
  (mean over the row of U, the row of V and the column of W).
* depth > 1 (Figure 15): `batchnorm_0` follows the input layer (rows of U and V: the
  "row-wise IPR of the input layer"), and `batchnorm_{depth-1}` comes right before the
  output layer (columns of W: the "column-wise IPR of the output layer").
"""
from __future__ import annotations

import numpy as np
from scipy import stats

from grokjax.analysis import ipr as ipr_lib


def layer_iprs(params: dict) -> dict[str, np.ndarray]:
    """The MLP's neuron IPRs, (..., N) each: {"neuron"} for depth 1, {"input", "output"} deeper."""
    if "hidden_1" not in params:
        return {"neuron": ipr_lib.neuron_ipr(params)["neuron"]}
    return {"input": ipr_lib.embedding_ipr(params, np.shape(params["U"])[-1]),
            "output": ipr_lib.output_ipr(params)}


def batchnorm_layers(params: dict) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{layer: (IPR of its neurons, the weight gamma of the BatchNorm that scales them)}, (..., N) each.

    Layers as `layer_iprs`; "neuron" and "input" pair with batchnorm_0, "output" with the last
    BatchNorm (right before W). Raises KeyError if the MLP was trained without BatchNorm.
    """
    norms = sorted((k for k in params if k.startswith("batchnorm_")), key=lambda k: int(k.split("_")[1]))
    if not norms:
        raise KeyError("no batchnorm_* parameters: the MLP was not trained with --norm=batchnorm")
    paired = {"neuron": norms[0], "input": norms[0], "output": norms[-1]}
    return {layer: (values, np.asarray(params[paired[layer]]["scale"]))
            for layer, values in layer_iprs(params).items()}


def ipr_gamma_correlations(ipr: np.ndarray, gamma: np.ndarray) -> dict[str, float]:
    """Pearson and Spearman correlations of one run's neuron IPRs with gamma_k and |gamma_k|."""
    keep = np.isfinite(ipr)  # a neuron whose weights decayed to exactly zero has no spectrum
    out = {}
    for name, g in (("gamma", gamma), ("abs_gamma", np.abs(gamma))):
        out[f"pearson_ipr_{name}"] = float(stats.pearsonr(ipr[keep], g[keep])[0])
        out[f"spearman_ipr_{name}"] = float(stats.spearmanr(ipr[keep], g[keep])[0])
    return out
