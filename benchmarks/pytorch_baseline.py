"""grokjax vs a plain PyTorch training loop of the same model on the same CPU.

    pip install -e .[bench]        # torch (optional; not needed by grokjax itself)
    nice -n 10 python benchmarks/pytorch_baseline.py                          # doshi_mlp and small_mlp, R = 16, 64
    nice -n 10 python benchmarks/pytorch_baseline.py --configs=small_mlp --runs=16

The model is Doshi et al. (2024) eq. 1, f(m, n) = W (U e_m + V e_n)^2, full batch, MSE
on one-hot answers, AdamW (lr 0.01, betas (0.9, 0.98), wd 1), training fraction 0.5.
PyTorch trains one run at a time, as every public grokking codebase does: an embedding
lookup for U e_m + V e_n over the training rows only, a forward/backward/AdamW step per
iteration, and an evaluation on the whole table every `chunk` steps (grokjax evaluates
once per chunk too). grokjax is timed on one run jitted alone and on R runs vmapped in
one call (the engine's own jit(vmap(train_chunk))). All variants are timed interleaved,
call by call (benchmarks/common.best_times); wall and CPU seconds are both reported.
Writes benchmarks/results/pytorch_baseline.{md,csv}.
"""
from __future__ import annotations

import functools
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

try:
    import torch
except ImportError:
    sys.exit("error: benchmarks/pytorch_baseline.py needs PyTorch: pip install torch (or pip install -e .[bench])")

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from common import CHUNK_STEPS, CONFIGS, best_times, compiled_chunk, load_average, write_table  # noqa: E402
from grokjax.data.datasets import operation_dataset  # noqa: E402
from grokjax.models.mlp import doshi_init_std  # noqa: E402
from grokjax.train.sweep import make_grid  # noqa: E402

MLP_CONFIGS = [name for name, cfg in CONFIGS.items() if cfg.model == "mlp" and cfg.batch_size == 0]
flags.DEFINE_list("configs", MLP_CONFIGS, f"full-batch MLP configs of benchmarks/common.py: {', '.join(MLP_CONFIGS)}")
flags.DEFINE_list("runs", ["16", "64"], "numbers of vmapped grokjax runs R (one run alone is always timed)")
flags.DEFINE_list("torch_threads", ["1", "2"], "PyTorch intra-op thread counts to time (each is a variant): "
                  "on a loaded machine OpenMP's barriers make 2 threads far slower than 1")
flags.DEFINE_float("min_seconds", 1.0, "time each variant for at least this long (best call counts)")
flags.DEFINE_string("out", "pytorch_baseline", "table name under benchmarks/results/")
FLAGS = flags.FLAGS
HPARAMS = {"lr": 0.01, "wd": 1.0, "frac": 0.5}


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


def torch_run(cfg, n_threads: int, seed: int = 0):
    """One PyTorch run; returns a function that trains `n` steps and evaluates once."""
    torch.manual_seed(seed)
    table = operation_dataset(cfg.op, cfg.p)
    inputs = torch.as_tensor(np.array(table.inputs), dtype=torch.long)
    answers = torch.as_tensor(np.array(table.targets), dtype=torch.long)
    perm = torch.randperm(len(answers), generator=torch.Generator().manual_seed(seed))
    n_train = int(round(HPARAMS["frac"] * len(answers)))
    train, val = perm[:n_train], perm[n_train:]
    x_tr, y_tr = inputs[train, 0], inputs[train, 1]
    target_tr = torch.nn.functional.one_hot(answers[train], table.n_classes).float()
    model = DoshiMLP(table.n_classes, cfg.width, torch.Generator().manual_seed(seed))
    opt = torch.optim.AdamW(model.parameters(), lr=HPARAMS["lr"], betas=(cfg.beta1, cfg.beta2),
                            eps=cfg.adam_eps, weight_decay=HPARAMS["wd"])
    loss_fn = torch.nn.MSELoss()

    def train_chunk(n_steps: int) -> dict:
        torch.set_num_threads(n_threads)  # global: set on every call, the variants are interleaved
        for _ in range(n_steps):
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x_tr, y_tr), target_tr)
            loss.backward()
            opt.step()
        with torch.no_grad():
            hit = model(inputs[:, 0], inputs[:, 1]).argmax(-1) == answers
            return {"train_acc": hit[train].float().mean().item(), "val_acc": hit[val].float().mean().item(),
                    "train_loss": loss.item()}
    return train_chunk


def measure(name: str, runs: list[int], threads: list[int]) -> list[dict]:
    cfg = CONFIGS[name]
    n_steps = CHUNK_STEPS[name]
    variants = [(f"pytorch loop, {t} thread(s)", 1, functools.partial(torch_run(cfg, t), n_steps)) for t in threads]
    variants += [("grokjax alone", 1, compiled_chunk(cfg, make_grid(HPARAMS), n_steps, alone=True))]
    variants += [("grokjax vmap", r, compiled_chunk(cfg, make_grid(HPARAMS, seeds=r), n_steps)) for r in runs]
    fns = [fn for _, _, fn in variants]
    for fn in fns:  # warm-up: torch's first steps allocate, XLA's first call transfers
        fn()
    times = best_times(fns, FLAGS.min_seconds)
    # The reference is PyTorch's best thread count (wall and CPU separately).
    torch_wall = min(t[0] for t in times[:len(threads)]) / n_steps
    torch_cpu = min(t[1] for t in times[:len(threads)]) / n_steps
    rows = []
    for (label, n_runs, _), (wall, cpu) in zip(variants, times):
        wall_rs, cpu_rs = wall / n_steps / n_runs, cpu / n_steps / n_runs
        rows.append({"config": name, "variant": label, "R": n_runs, "ms/step": 1e3 * wall / n_steps,
                     "ms/run-step": 1e3 * wall_rs, "CPU ms/run-step": 1e3 * cpu_rs,
                     "run-steps/s": 1 / wall_rs, "run-steps/CPU-s": 1 / cpu_rs,
                     "vs best pytorch (wall)": torch_wall / wall_rs, "vs best pytorch (CPU)": torch_cpu / cpu_rs})
        print(f"{name} {label} R={n_runs}: {1e3 * wall_rs:.3f} ms/run-step wall, {1e3 * cpu_rs:.3f} CPU "
              f"({torch_wall / wall_rs:.2f}x / {torch_cpu / cpu_rs:.2f}x pytorch)", flush=True)
    return rows


COLUMNS = ["config", "variant", "R", "ms/step", "ms/run-step", "CPU ms/run-step", "run-steps/s", "run-steps/CPU-s",
           "vs best pytorch (wall)", "vs best pytorch (CPU)"]


def main(argv):
    del argv
    load_before = load_average()
    rows = []
    for name in FLAGS.configs:
        rows += measure(name, [int(r) for r in FLAGS.runs], [int(t) for t in FLAGS.torch_threads])
    write_table(FLAGS.out, f"grokjax vs a plain PyTorch loop (torch {torch.__version__}), full-batch MLP, "
                "frac 0.5; interleaved call by call",
                rows, COLUMNS, f"{load_before} / {load_average()}")


if __name__ == "__main__":
    app.run(main)
