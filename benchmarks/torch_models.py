"""Plain PyTorch versions of grokjax's models, for benchmarks/pytorch_baseline.py.

Each is written as a public grokking codebase would write it (nn.Module, eager mode,
every position through every layer) and takes its initial weights from grokjax's own
init, so both programs start from the same parameters and compute the same function
(`check_same_function` asserts it before anything is timed).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from grokjax.models.mlp import doshi_init_std


class DoshiMLP(torch.nn.Module):
    """Doshi et al. eq. 1 with the same shapes and init as grokjax.models.mlp."""

    def __init__(self, p: int, width: int, generator: torch.Generator):
        super().__init__()
        std = doshi_init_std(width)
        self.U = torch.nn.Parameter(std * torch.randn(width, p, generator=generator))
        self.V = torch.nn.Parameter(std * torch.randn(width, p, generator=generator))
        self.W = torch.nn.Parameter(std * torch.randn(p, width, generator=generator))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.U.T[x] + self.V.T[y]
        return torch.square(h) @ self.W.T


def _tensor(a) -> torch.nn.Parameter:
    return torch.nn.Parameter(torch.as_tensor(np.array(a, dtype=np.float32)))


class PowerTransformer(torch.nn.Module):
    """Power et al. (2022) A.1.2 as grokjax.models.transformer defines it: [x, OP, y, EQ], pre-LN
    blocks (causal multi-head attention, ReLU MLP), a final LayerNorm and the answer-token logits.
    Built from a grokjax parameter dict (numpy arrays), so both start from the same weights."""

    def __init__(self, params: dict, n_elements: int, heads: int):
        super().__init__()
        self.n, self.heads = n_elements, heads
        self.tokens = _tensor(params["embed"]["tokens"])
        self.positions = _tensor(params["embed"]["positions"])
        width = self.tokens.shape[1]
        self.blocks = torch.nn.ModuleList()
        for name in sorted((k for k in params if k.startswith("block_")), key=lambda k: int(k[6:])):
            blk, mod = params[name], torch.nn.Module()
            for proj in ("wq", "wk", "wv"):
                setattr(mod, proj, _tensor(np.reshape(blk["attn"][proj], (width, width))))
            mod.wo = _tensor(np.reshape(blk["attn"]["wo"], (width, width)))
            mod.ln1 = torch.nn.LayerNorm(width)
            mod.ln2 = torch.nn.LayerNorm(width)
            mod.w_in, mod.b_in = _tensor(blk["mlp"]["w_in"]), _tensor(blk["mlp"]["b_in"])
            mod.w_out, mod.b_out = _tensor(blk["mlp"]["w_out"]), _tensor(blk["mlp"]["b_out"])
            self.blocks.append(mod)
        self.ln_final = torch.nn.LayerNorm(width)
        self.unembed = _tensor(params["unembed"]["w"])
        self.register_buffer("causal", torch.tril(torch.ones(4, 4, dtype=torch.bool)))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        tokens = torch.stack([x, torch.full_like(x, self.n), y, torch.full_like(x, self.n + 1)], dim=1)
        h = self.tokens[tokens] + self.positions
        head_dim = h.shape[-1] // self.heads
        for blk in self.blocks:
            a = blk.ln1(h)
            q, k, v = ((a @ w).view(b, 4, self.heads, head_dim).transpose(1, 2) for w in (blk.wq, blk.wk, blk.wv))
            s = (q @ k.transpose(-1, -2)) / math.sqrt(head_dim)
            s = s.masked_fill(~self.causal, torch.finfo(s.dtype).min)
            o = (torch.softmax(s, dim=-1) @ v).transpose(1, 2).reshape(b, 4, -1)
            h = h + o @ blk.wo
            h = h + torch.relu(blk.ln2(h) @ blk.w_in + blk.b_in) @ blk.w_out + blk.b_out
        return self.ln_final(h[:, -1]) @ self.unembed


def check_same_function(torch_model: torch.nn.Module, jax_logits: np.ndarray, x: torch.Tensor, y: torch.Tensor) -> float:
    """Max |torch - grokjax| logits on the same inputs; raises if above float32 noise. The two
    programs sum in different orders over width-128/512 dot products: relative error ~1e-6 per
    product, a few 1e-5 absolute on logits of size ~4 after two layers."""
    with torch.no_grad():
        diff = float(np.max(np.abs(torch_model(x, y).numpy() - jax_logits)))
    if diff > 1e-3:
        raise AssertionError(f"the PyTorch model does not compute grokjax's function (max |diff| {diff:g})")
    return diff
