"""Measures: named per-run scalars computed inside every jitted, vmapped evaluation.

A measure is a pure function of a run at an evaluation point (`Probe`: the model's parameters and
state, the run's data split, the whole dataset and the model's outputs on it) returning
{name: scalar}, each name the measure's own or `<measure>/<part>`. Chosen with `--measures=a,b`; each name becomes a curve in metrics.npz and the
live metrics stream, and its last value `final_<name>` in summary.csv. `refuses(params, cfg)` says,
before anything is compiled, why a measure does not apply to a model (None: it applies).
Post-hoc analyses of saved parameters may call the same functions.

Adding one: a function of a Probe, registered in MEASURES (docs/engine.md, "Measures").
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from grokjax.errors import ConfigError


class Probe(NamedTuple):
    """What a measure sees of one run (no run axis: measures are vmapped with the runs)."""

    params: dict
    model_state: dict
    data: object  # grokjax.data.splits.RunData: labels, train_mask, corrupted, perm, n_train
    inputs: object  # the whole dataset's model inputs
    answers: jax.Array  # the whole dataset's true targets
    outputs: jax.Array  # the model's outputs on the whole dataset (eval mode), as evaluate computed them
    n_classes: int
    loss: Callable | None = None  # the run's per-example loss(outputs_B, targets_B) -> (B,)


class Measure(NamedTuple):
    fn: Callable[[Probe], dict[str, jax.Array]]
    help: str
    # (abstract params, cfg, n_classes) -> why the measure does not apply, or None
    refuses: Callable[[dict, object, int], str | None] = lambda params, cfg, n_classes: None


def weight_norms(probe: Probe) -> dict[str, jax.Array]:
    """Global L2 norm (`weight_norm`) and one per top-level parameter group (`norm/<group>`)."""
    sq = {name: sum(jnp.sum(jnp.square(x)) for x in jax.tree.leaves(sub)) for name, sub in probe.params.items()}
    norms = {f"norm/{name}": jnp.sqrt(v) for name, v in sq.items()}
    norms["weight_norm"] = jnp.sqrt(sum(sq.values()))
    return norms


def spectrum_ipr(x: jax.Array, axis: int = -1, r: int = 2) -> jax.Array:
    """jnp version of grokjax.analysis.ipr.ipr: IPR of the one-sided Fourier spectrum along `axis`."""
    power = jnp.square(jnp.abs(jnp.fft.rfft(x.astype(jnp.float32), axis=axis)))
    return jnp.sum(power ** r, axis=axis) / jnp.sum(power, axis=axis) ** r


def neuron_ipr(probe: Probe) -> dict[str, jax.Array]:
    """Mean IPR over hidden neurons (Doshi et al. eq. 4: rows of U, V and columns of W) for the MLP;
    for the transformer, the mean IPR of the number-token embedding's columns (Doshi et al. Fig. 7)."""
    params = probe.params
    if "U" in params:
        per_neuron = (spectrum_ipr(params["U"], -1) + spectrum_ipr(params["V"], -1) + spectrum_ipr(params["W"], 0)) / 3
    else:
        per_neuron = spectrum_ipr(params["embed"]["tokens"][:probe.n_classes], 0)
    return {"ipr": jnp.nanmean(per_neuron)}


def _refuse_ipr(params, cfg, n_classes) -> str | None:
    if "U" in params and "W" in params or "embed" in params:
        return None
    return "needs the MLP's hidden layer (U, V, W) or the transformer's token embedding"


def softmax_collapse(probe: Probe) -> dict[str, jax.Array]:
    """Softmax collapse (Prieto et al. 2025), over the training examples:

    `softmax_collapse`: the share whose float32 softmax probability of their label is exactly 1;
      their cross-entropy gradient on the label's logit, p_y - 1, is then exactly 0.
    `softmax_collapse/absorbed_gradient`: the share of the label logits' gradient mass lost to
      float32 absorption, sum |s - (1 - fl(p_y))| / sum s, where s = 1 - p_y is computed without
      absorption, as sigmoid(logsumexp of the other logits - the label's logit). 0: the gradient
      is intact; 1: every training example's label gradient is absorbed.
    """
    logits = probe.outputs.astype(jnp.float32)
    labels = probe.data.labels[:, None]
    p_label = jnp.take_along_axis(jax.nn.softmax(logits, axis=-1), labels, axis=-1)[:, 0]
    label_logit = jnp.take_along_axis(logits, labels, axis=-1)[:, 0]
    others = jnp.where(jax.nn.one_hot(probe.data.labels, logits.shape[-1], dtype=bool), -jnp.inf, logits)
    exact = jax.nn.sigmoid(jax.nn.logsumexp(others, axis=-1) - label_logit)  # 1 - p_y, no absorption
    mask = probe.data.train_mask
    absorbed = jnp.sum(jnp.where(mask, jnp.abs(exact - (1.0 - p_label)), 0.0))
    return {"softmax_collapse": jnp.sum((p_label == 1.0) & mask) / jnp.maximum(jnp.sum(mask), 1),
            "softmax_collapse/absorbed_gradient": absorbed / jnp.maximum(jnp.sum(jnp.where(mask, exact, 0.0)), 1e-38)}


def _refuse_unless_classifier(params, cfg, n_classes) -> str | None:
    return None if n_classes > 0 else "needs a classification task (class logits)"


def effective_rank(probe: Probe) -> dict[str, jax.Array]:
    """exp(entropy of the normalized singular values) of every weight matrix (Roy and Vetterli 2007),
    `effective_rank/<path>`: from 1 (rank one) to min(shape) (all singular values equal)."""
    out = {}
    for path, w in jax.tree_util.tree_flatten_with_path(probe.params)[0]:
        if w.ndim != 2:
            continue
        s = jnp.linalg.svd(w.astype(jnp.float32), compute_uv=False)
        q = s / jnp.maximum(jnp.sum(s), 1e-30)
        entropy = -jnp.sum(jnp.where(q > 0, q * jnp.log(jnp.where(q > 0, q, 1.0)), 0.0))
        out["effective_rank/" + "/".join(str(getattr(k, "key", k)) for k in path)] = jnp.exp(entropy)
    return out


def _refuse_without_matrices(params, cfg, n_classes) -> str | None:
    return None if any(w.ndim == 2 for w in jax.tree.leaves(params)) else "the model has no weight matrix"


FOURIER_TOP_K = 5  # key frequencies kept: Nanda et al. find ~5 at p = 113


def frequency_energy(e_PxD: jax.Array) -> jax.Array:
    """Energy of the columns of e (rows indexed by residue 0..p-1) at each frequency 0..p//2: frequency
    k and p - k counted together, so the energies sum to p * |e|^2 (Parseval)."""
    p = e_PxD.shape[0]
    power = jnp.sum(jnp.square(jnp.abs(jnp.fft.rfft(e_PxD.astype(jnp.float32), axis=0))), axis=1)
    k = jnp.arange(power.shape[0])
    return jnp.where((k == 0) | (2 * k == p), 1.0, 2.0) * power


def _embedding_energy(params: dict, p: int) -> jax.Array:
    if "U" in params:  # the MLP's first layer: U, V (N, p), one column per residue
        return frequency_energy(params["U"].T) + frequency_energy(params["V"].T)
    return frequency_energy(params["embed"]["tokens"][:p])


def fourier(probe: Probe) -> dict[str, jax.Array]:
    """Progress measures for modular addition (Nanda et al. 2023), with the run's own key frequencies:
    the FOURIER_TOP_K nonzero frequencies holding most of the embedding's (the MLP's first layer's) energy.

    `fourier/top_k_share`: their share of that energy (DC included in the total).
    `fourier/restricted_loss`: the run's loss on all p^2 pairs with the logits projected, column by
      column, onto the constant and cos / sin(2 pi k (a + b) / p) of the key frequencies k.
    `fourier/excluded_loss`: the run's loss on the training pairs with those key directions removed.
    """
    p = probe.n_classes
    energy = _embedding_energy(probe.params, p)
    top, key_freqs = jax.lax.top_k(energy[1:], FOURIER_TOP_K)
    key_freqs = key_freqs + 1
    share = jnp.sum(top) / jnp.maximum(jnp.sum(energy), 1e-30)
    total = (probe.inputs[:, 0] + probe.inputs[:, 1]) % p  # a + b of every row of the table
    angle_RxK = 2 * jnp.pi * total[:, None] * key_freqs[None, :] / p
    basis_RxB = jnp.concatenate([jnp.cos(angle_RxK), jnp.sin(angle_RxK)], axis=1)
    basis_RxB = basis_RxB / jnp.maximum(jnp.linalg.norm(basis_RxB, axis=0), 1e-30)  # orthogonal over a full table
    logits_RxC = probe.outputs.astype(jnp.float32)
    key_part = basis_RxB @ (basis_RxB.T @ logits_RxC)
    restricted = jnp.mean(logits_RxC, axis=0, keepdims=True) + key_part
    excluded = logits_RxC - key_part
    train = probe.data.train_mask
    return {"fourier/top_k_share": share,
            "fourier/restricted_loss": jnp.mean(probe.loss(restricted, probe.answers)),
            "fourier/excluded_loss": jnp.sum(jnp.where(train, probe.loss(excluded, probe.data.labels), 0.0))
            / jnp.maximum(jnp.sum(train), 1)}


def _refuse_fourier(params, cfg, n_classes) -> str | None:
    if cfg.op != "add":
        return f"needs --op=add (a + b mod p), not --op={cfg.op}"
    if not ("U" in params and "V" in params or "embed" in params):
        return "needs the MLP's first layer (U, V) or the transformer's token embedding"
    if n_classes // 2 < FOURIER_TOP_K:
        return f"needs p >= {2 * FOURIER_TOP_K} for {FOURIER_TOP_K} key frequencies"
    return None


MEASURES: dict[str, Measure] = {
    "weight_norms": Measure(weight_norms, "global and per-layer L2 norm (always recorded)"),
    "ipr": Measure(neuron_ipr, "mean Fourier IPR of the hidden neurons (MLP) or number-token embedding "
                               "(transformer)", _refuse_ipr),
    "softmax_collapse": Measure(softmax_collapse, "share of training examples whose float32 softmax "
                                                  "probability of the label is exactly 1, and share of "
                                                  "the label logits' gradient absorbed",
                                _refuse_unless_classifier),
    "effective_rank": Measure(effective_rank, "effective rank of each weight matrix", _refuse_without_matrices),
    "fourier": Measure(fourier, "modular addition: key-frequency share of the embedding, restricted and "
                                "excluded loss (Nanda et al. 2023)", _refuse_fourier),
}
ALWAYS = ("weight_norms",)  # today's default metrics: every run directory has them


def parse(text: str) -> tuple[str, ...]:
    """The measure names of `--measures=a,b` (no empty names, no repeats, each known)."""
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    for name in names:
        if name not in MEASURES:
            raise ConfigError(f"--measures: unknown measure '{name}'; choose from: {', '.join(MEASURES)}")
    if len(set(names)) != len(names):
        raise ConfigError(f"--measures={text} names a measure twice")
    return names


def selected(text: str) -> tuple[str, ...]:
    """The measures evaluated: ALWAYS, then those of `--measures`."""
    return ALWAYS + tuple(n for n in parse(text) if n not in ALWAYS)


def check_applicable(text: str, abstract_params: dict, cfg, n_classes: int) -> None:
    """Raises ConfigError (one line) for a chosen measure that does not apply to the model."""
    for name in parse(text):
        reason = MEASURES[name].refuses(abstract_params, cfg, n_classes)
        if reason:
            raise ConfigError(f"--measures={name} does not apply to --model={cfg.model}: {reason}")


def evaluate_measures(text: str, probe: Probe) -> dict[str, jax.Array]:
    """Every selected measure's scalars, in one dict (inside the jitted evaluation)."""
    out = {}
    for name in selected(text):
        out.update(MEASURES[name].fn(probe))
    return out


def measure_columns(text: str, curve_names) -> list[str]:
    """The curves a sweep's chosen measures produced (summary.csv gets `final_<name>` of each)."""
    chosen = [n for n in parse(text) if n not in ALWAYS]
    return [k for n in chosen for k in curve_names if k == n or k.startswith(n + "/")]
