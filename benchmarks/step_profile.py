"""Where the time of one training step goes: a per-operation breakdown from a profiler trace.

    python benchmarks/step_profile.py --config=doshi_mlp            # one run jitted alone
    python benchmarks/step_profile.py --config=doshi_mlp --runs=4   # the engine's vmapped chunk

Traces a few calls of the engine's compiled chunk (`jax.profiler`), sums the time of
every XLA operation per step, and sorts the operations into matmuls (a dot, alone or
inside a fusion), gathers/scatters, and the rest (elementwise fusions, optimizer
update, loop bookkeeping), read from the compiled HLO. Operations may overlap on the
CPU's threads, so the sums can exceed the wall time of a step. Prints and writes
benchmarks/results/<out>.{md,csv}: the top operations with their category and ms per step,
the sum of each category, and the step's wall and CPU time measured without the profiler.
"""
from __future__ import annotations

import collections
import glob
import gzip
import json
import os
import re
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jax  # noqa: E402
from absl import app, flags  # noqa: E402

from common import CHUNK_STEPS, CONFIGS, best_times, compiled_chunk, grid_of, load_average, matmul_fn, write_table  # noqa: E402,E501

flags.DEFINE_string("config", "doshi_mlp", f"one of: {', '.join(CONFIGS)}")
flags.DEFINE_integer("runs", 1, "1: one run jitted alone (no vmap); R > 1: R vmapped runs, as run_sweep")
flags.DEFINE_integer("calls", 3, "traced calls of the chunk")
flags.DEFINE_integer("steps", 0, "steps per chunk (0: benchmarks/common.CHUNK_STEPS); a chunk ends with one "
                     "evaluation, so more steps leave less of it in the per-step numbers")
flags.DEFINE_integer("top", 15, "operations listed (the rest are summed by category)")
flags.DEFINE_string("out", "", "table name under benchmarks/results/ (default step_profile_<config>_R<runs>)")
FLAGS = flags.FLAGS


def categories(hlo_text: str) -> dict[str, str]:
    """Instruction name -> "matmul" | "gather/scatter" | "other", from the compiled HLO text:
    a fusion is classified by the instructions of the computation it calls."""
    bodies, current = {}, None
    for line in hlo_text.splitlines():
        head = re.match(r"^(?:ENTRY )?%?([\w.\-]+) \(.*\{$", line)
        if head:
            current = bodies.setdefault(head.group(1), [])
        elif current is not None:
            current.append(line)
    kinds = {}
    for lines in bodies.values():
        for line in lines:
            m = re.match(r"^\s*(?:ROOT )?%?([\w.\-]+) = \S+ (\w[\w\-]*)\(", line)
            if not m:
                continue
            name, opcode = m.groups()
            text = line
            called = re.search(r"calls=%?([\w.\-]+)", line)
            if called:
                text += "\n".join(bodies.get(called.group(1), []))
            if re.search(r"\b(dot|convolution)\(", text) or opcode == "dot":
                kinds[name] = "matmul"
            elif re.search(r"\b(gather|scatter)\(", text) or "scatter" in name or "gather" in name:
                kinds[name] = "gather/scatter"
            else:
                kinds[name] = "other"
    return kinds


def profile(call, calls: int) -> collections.Counter:
    """Summed trace durations (microseconds) of each XLA operation over `calls` calls."""
    with tempfile.TemporaryDirectory() as trace_dir:
        jax.profiler.start_trace(trace_dir)
        for _ in range(calls):
            jax.block_until_ready(call())
        jax.profiler.stop_trace()
        path = sorted(glob.glob(os.path.join(trace_dir, "**", "*.trace.json.gz"), recursive=True))[-1]
        with gzip.open(path) as f:
            events = json.load(f)["traceEvents"]
    total = collections.Counter()
    for e in events:
        if e.get("ph") == "X":
            total[e["name"]] += e["dur"]
    return total


def main(argv):
    del argv
    before = load_average()
    cfg, n_steps = CONFIGS[FLAGS.config], FLAGS.steps or CHUNK_STEPS[FLAGS.config]
    grid = grid_of(FLAGS.runs)
    call, compiled = compiled_chunk(cfg, grid, n_steps, alone=FLAGS.runs == 1, with_compiled=True)
    kinds = categories(compiled.as_text())
    matmul, matmul_flops = matmul_fn()
    (t_chunk, c_chunk), (t_peak, _) = best_times([call, matmul], min_seconds=2.0)
    totals = profile(call, FLAGS.calls)
    per_step = 1e-3 / (FLAGS.calls * n_steps)  # microseconds summed over calls -> ms per step
    ops = [(name, kinds[name], us * per_step) for name, us in totals.items() if name in kinds]
    ops.sort(key=lambda o: -o[2])
    step_ms = 1e3 * t_chunk / n_steps
    rows = [{"operation": n, "category": k, "ms/step": ms, "share of step": ms / step_ms} for n, k, ms in ops[:FLAGS.top]]
    by_kind = collections.Counter()
    for _, k, ms in ops:
        by_kind[k] += ms
    for kind, ms in by_kind.most_common():
        rows.append({"operation": f"all {kind}", "category": kind, "ms/step": ms, "share of step": ms / step_ms})
    rows.append({"operation": "step (wall, untraced)", "category": "", "ms/step": step_ms, "share of step": 1.0})
    rows.append({"operation": "step (CPU time, all threads)", "category": "", "ms/step": 1e3 * c_chunk / n_steps,
                 "share of step": c_chunk / t_chunk})
    peak = matmul_flops / t_peak
    name = FLAGS.out or f"step_profile_{FLAGS.config}_R{FLAGS.runs}"
    write_table(name, f"one step of {FLAGS.config}, R = {FLAGS.runs} ({'alone' if FLAGS.runs == 1 else 'vmap'}); "
                f"matmul peak {peak / 1e9:.0f} GFLOP/s; {time.strftime('%H:%M')}", rows,
                ["operation", "category", "ms/step", "share of step"], f"{before} / {load_average()}")


if __name__ == "__main__":
    app.run(main)
