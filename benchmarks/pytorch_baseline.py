"""grokjax vs a plain PyTorch training loop of the same model on the same CPU.

    pip install -e .[bench]        # torch (optional; not needed by grokjax itself)
    nice -n 10 python benchmarks/pytorch_baseline.py                          # doshi_mlp and small_mlp, R = 16, 64
    nice -n 10 python benchmarks/pytorch_baseline.py --configs=small_mlp --runs=16
    python benchmarks/pytorch_baseline.py --configs=power_transformer --runs=4,16 --torch_threads=2

**Power transformer** (--configs=power_transformer): Power et al. A.1.2 (2 layers, width 128,
4 heads, pre-LN, ReLU MLP 512, answer-token cross-entropy, AdamW 1e-3 betas (0.9, 0.98) wd 1,
warmup 10, batch 512 drawn from the training split of x + y mod 97 at frac 0.5).
benchmarks/torch_models.PowerTransformer is the plain PyTorch model, built from grokjax's
initial parameters and checked to give the same logits before anything is timed. In one run,
interleaved call by call with a 2048^3 matmul (the peak):
  * the step alone, no evaluation: PyTorch times a loop of steps; grokjax times the engine's
    chunk of n1 and of n2 steps (each ends with one full-table evaluation) and takes the
    difference, (t(n2) - t(n1)) / (n2 - n1);
  * grokjax at R = 4 and 16 vmapped runs per call, per run, by the same difference;
  * a 2,000-step run end to end, evaluation every 100 steps, each program in a fresh process
    (interpreter start, imports and compilation included): grokjax through
    experiments/phase_diagram.py, PyTorch through its loop (--torch_e2e).
FLOPs: grokjax's are XLA's count of the compiled step (it computes only what the answer token
needs, models/transformer.py); PyTorch's are the same count for the plain forward pass, i.e. the
reference model's, so "frac of peak" is each program's own work rate.

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
from torch_models import DoshiMLP  # noqa: E402
from grokjax.train.sweep import make_grid  # noqa: E402

MLP_CONFIGS = [name for name, cfg in CONFIGS.items() if cfg.model == "mlp" and cfg.batch_size == 0]
ALL_CONFIGS = [*MLP_CONFIGS, "power_transformer"]
flags.DEFINE_list("configs", MLP_CONFIGS, f"configs of benchmarks/common.py: {', '.join(ALL_CONFIGS)}")
flags.DEFINE_integer("e2e_steps", 2000, "power_transformer: steps of the end-to-end runs (0: skip them)")
flags.DEFINE_integer("e2e_repeats", 2, "power_transformer: end-to-end runs of each program, alternated")
flags.DEFINE_bool("torch_e2e", False, "internal: train one PyTorch transformer run end to end and exit")
flags.DEFINE_list("runs", ["16", "64"], "numbers of vmapped grokjax runs R (one run alone is always timed)")
flags.DEFINE_list("torch_threads", ["1", "2"], "PyTorch intra-op thread counts to time (each is a variant): "
                  "on a loaded machine OpenMP's barriers make 2 threads far slower than 1")
flags.DEFINE_float("min_seconds", 1.0, "time each variant for at least this long (best call counts)")
flags.DEFINE_string("out", "pytorch_baseline", "table name under benchmarks/results/")
FLAGS = flags.FLAGS
HPARAMS = {"lr": 0.01, "wd": 1.0, "frac": 0.5}


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


# ----------------------------------------------------------------------------- Power transformer

TRANSFORMER_HPARAMS = {"lr": 1e-3, "wd": 1.0, "frac": 0.5}
TRANSFORMER_STEPS = (4, 12)  # grokjax chunks of n1 and n2 steps: the step is their difference / (n2 - n1)
TORCH_STEPS = 8  # PyTorch steps per timed call


def nominal_flops(cfg, batch: int, n_elements: int) -> float:
    """Matmul FLOPs of one training step of the plain model (every position through every layer):
    forward 2 * (multiply-adds), backward twice the forward."""
    t, w, m = 4, cfg.width, cfg.mlp_width or 4 * cfg.width
    per_layer = t * (4 * w * w + 2 * w * m) + 2 * t * t * w  # Q, K, V, O; MLP; scores and A V
    return 3 * 2 * batch * (cfg.depth * per_layer + w * n_elements)


def torch_transformer(cfg, n_threads: int, seed: int = 0):
    """One PyTorch run from grokjax's initial parameters: (train(n_steps), evaluate())."""
    import jax

    from grokjax.models import make_model
    from torch_models import PowerTransformer, check_same_function

    torch.manual_seed(seed)
    torch.set_num_threads(n_threads)
    table = operation_dataset(cfg.op, cfg.p)
    jax_model = make_model(cfg, table.n_classes)
    params = jax.tree.map(np.asarray, jax_model.init(jax.random.key(seed))[0])
    model = PowerTransformer(params, table.n_classes, cfg.heads)
    inputs = torch.as_tensor(np.array(table.inputs), dtype=torch.long)
    x, y = inputs[:, 0], inputs[:, 1]
    answers = torch.as_tensor(np.array(table.targets), dtype=torch.long)
    check_same_function(model, np.asarray(jax_model.apply(params, {}, np.asarray(inputs[:256]), train=False)[0]),
                        x[:256], y[:256])
    perm = torch.randperm(len(answers), generator=torch.Generator().manual_seed(seed))
    n_train = int(round(TRANSFORMER_HPARAMS["frac"] * len(answers)))
    train_rows, val_rows = perm[:n_train], perm[n_train:]
    batch = min(cfg.batch_size, n_train // 2)  # Power et al.: min(512, n_train / 2)
    opt = torch.optim.AdamW(model.parameters(), lr=TRANSFORMER_HPARAMS["lr"], betas=(cfg.beta1, cfg.beta2),
                            eps=cfg.adam_eps, weight_decay=TRANSFORMER_HPARAMS["wd"])
    warmup = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / cfg.warmup_steps))

    def train(n_steps: int):
        torch.set_num_threads(n_threads)  # global: set on every call, the variants are interleaved
        for _ in range(n_steps):
            rows = train_rows[torch.randint(n_train, (batch,))]
            loss = torch.nn.functional.cross_entropy(model(x[rows], y[rows]), answers[rows])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            warmup.step()
        return loss.item()

    def evaluate() -> dict:
        with torch.no_grad():
            hit = model(x, y).argmax(-1) == answers
        return {"train_acc": hit[train_rows].float().mean().item(), "val_acc": hit[val_rows].float().mean().item()}
    return train, evaluate, batch


def torch_e2e() -> None:
    """--torch_e2e: one PyTorch run of --e2e_steps, evaluating every 100 steps (timed by the caller)."""
    cfg = CONFIGS["power_transformer"]
    train, evaluate, _ = torch_transformer(cfg, int(FLAGS.torch_threads[-1]))
    for _ in range(FLAGS.e2e_steps // 100):
        train(100)
        metrics = evaluate()
    print(f"pytorch end to end: {metrics}")


def grokjax_e2e_command(workdir: str) -> list[str]:
    cfg, hp = CONFIGS["power_transformer"], TRANSFORMER_HPARAMS
    fields = ("model", "width", "depth", "heads", "activation", "norm", "loss", "optimizer", "beta1", "beta2",
              "warmup_steps", "batch_size", "batch_rule", "op", "p")
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "experiments", "phase_diagram.py")
    return [sys.executable, script, *[f"--{k}={getattr(cfg, k)}" for k in fields],
            *[f"--{k}={v}" for k, v in hp.items()], f"--steps={FLAGS.e2e_steps}", "--eval_every=100",
            "--seeds=1", "--noprogress", f"--workdir={workdir}"]


def time_process(cmd: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of a command in a fresh process; its output is shown on failure."""
    import resource
    import subprocess
    import time

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        sys.exit(f"error: {' '.join(cmd[:3])} ... failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure_transformer(runs: list[int], threads: list[int]) -> list[dict]:
    import shutil
    import tempfile

    from common import matmul_fn, step_flops

    cfg = CONFIGS["power_transformer"]
    n1, n2 = TRANSFORMER_STEPS
    matmul, matmul_flops = matmul_fn()
    torch_variants = [(t, torch_transformer(cfg, t)) for t in threads]
    batch = torch_variants[0][1][2]
    table = operation_dataset(cfg.op, cfg.p)
    nominal = nominal_flops(cfg, batch, table.n_classes)
    jax_variants = []  # (R, call n1, call n2)
    executed = None
    for r in [1, *runs]:
        grid = make_grid(TRANSFORMER_HPARAMS, seeds=r)
        c1 = compiled_chunk(cfg, grid, n1, alone=r == 1)
        c2 = compiled_chunk(cfg, grid, n2, alone=r == 1)
        if r == 1:  # XLA's FLOPs of one run's step
            import jax

            from grokjax.train.sweep import features_for, run_fns_for
            fns = run_fns_for(features_for(cfg, grid), grid, table)
            state = jax.eval_shape(jax.vmap(fns.init), grid)
            one_run = lambda a: jax.ShapeDtypeStruct(a.shape[1:], a.dtype)  # noqa: E731
            executed = step_flops(fns, jax.tree.map(one_run, state), jax.tree.map(one_run, grid))
        jax_variants.append((r, c1, c2))
    fns = [matmul, *[(lambda f=f: f(TORCH_STEPS)) for _, (f, _, _) in torch_variants]]
    for _, c1, c2 in jax_variants:
        fns += [c1, c2]
    for fn in fns:  # warm-up
        fn()
    times = best_times(fns, FLAGS.min_seconds, min_rounds=3)
    (t_peak, c_peak), times = times[0], times[1:]
    peak, cpu_peak = matmul_flops / t_peak, matmul_flops / c_peak
    rows = []
    for i, (t, _) in enumerate(torch_variants):
        wall, cpu = times[i]
        rows.append({"variant": f"pytorch step, {t} thread(s)", "R": 1, "ms/run-step": 1e3 * wall / TORCH_STEPS,
                     "CPU ms/run-step": 1e3 * cpu / TORCH_STEPS, "GFLOP/step": nominal / 1e9,
                     "frac of peak": nominal / (wall / TORCH_STEPS) / peak})
    torch_wall = min(r["ms/run-step"] for r in rows)
    torch_cpu = min(r["CPU ms/run-step"] for r in rows)
    times = times[len(torch_variants):]
    for j, (r, _, _) in enumerate(jax_variants):
        (w1, c1), (w2, c2) = times[2 * j], times[2 * j + 1]
        wall, cpu = (w2 - w1) / (n2 - n1) / r, (c2 - c1) / (n2 - n1) / r
        rows.append({"variant": "grokjax step alone" if r == 1 else "grokjax step, vmapped", "R": r,
                     "ms/run-step": 1e3 * wall, "CPU ms/run-step": 1e3 * cpu, "GFLOP/step": executed / 1e9,
                     "frac of peak": executed / wall / peak, "nominal frac of peak": nominal / wall / peak})
    for row in rows:
        row["vs best pytorch (wall)"] = torch_wall / row["ms/run-step"]
        row["vs best pytorch (CPU)"] = torch_cpu / row["CPU ms/run-step"]
    if FLAGS.e2e_steps:
        workdir = tempfile.mkdtemp(prefix="grokjax-e2e-")
        e2e = {"grokjax": [], "pytorch": []}
        try:
            for k in range(FLAGS.e2e_repeats):
                run_dir = os.path.join(workdir, f"run{k}")
                e2e["grokjax"].append(time_process(grokjax_e2e_command(run_dir)))
                e2e["pytorch"].append(time_process([sys.executable, os.path.abspath(__file__), "--torch_e2e",
                                                    f"--e2e_steps={FLAGS.e2e_steps}",
                                                    f"--torch_threads={threads[-1]}"]))
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        best = {k: (min(w for w, _ in v), min(c for _, c in v)) for k, v in e2e.items()}
        for name, (wall, cpu) in best.items():
            rows.append({"variant": f"{name}, {FLAGS.e2e_steps} steps end to end", "R": 1, "s/run": wall,
                         "CPU s/run": cpu, "vs best pytorch (wall)": best["pytorch"][0] / wall,
                         "vs best pytorch (CPU)": best["pytorch"][1] / cpu})
    for row in rows:
        row.update(config="power_transformer", **{"peak GFLOP/s": peak / 1e9, "CPU peak GFLOP/s": cpu_peak / 1e9})
        print({k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in row.items()}, flush=True)
    return rows


TRANSFORMER_COLUMNS = ["config", "variant", "R", "ms/run-step", "CPU ms/run-step", "s/run", "CPU s/run",
                       "vs best pytorch (wall)",
                       "vs best pytorch (CPU)", "GFLOP/step", "frac of peak", "nominal frac of peak", "peak GFLOP/s"]


def main(argv):
    del argv
    if FLAGS.torch_e2e:
        return torch_e2e()
    unknown = [c for c in FLAGS.configs if c not in ALL_CONFIGS]
    if unknown:
        sys.exit(f"error: --configs={unknown[0]} is not allowed; choose from: {', '.join(ALL_CONFIGS)}")
    load_before = load_average()
    threads = [int(t) for t in FLAGS.torch_threads]
    if "power_transformer" in FLAGS.configs:
        rows = measure_transformer([int(r) for r in FLAGS.runs], threads)
        write_table(FLAGS.out + "_transformer", f"grokjax vs plain PyTorch (torch {torch.__version__}), Power "
                    "transformer, batch 512; step times interleaved call by call; end-to-end rows are seconds "
                    "per run", rows, TRANSFORMER_COLUMNS, f"{load_before} / {load_average()}")
    rows = []
    for name in [c for c in FLAGS.configs if c != "power_transformer"]:
        rows += measure(name, [int(r) for r in FLAGS.runs], threads)
    if rows:
        write_table(FLAGS.out, f"grokjax vs a plain PyTorch loop (torch {torch.__version__}), full-batch MLP, "
                    "frac 0.5; interleaved call by call",
                    rows, COLUMNS, f"{load_before} / {load_average()}")


if __name__ == "__main__":
    app.run(main)
