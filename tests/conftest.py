"""Shared fixtures: tiny configurations that train in well under a second."""
import os
import tempfile

# Tests run on the CPU even where an accelerator is present, and quietly.
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# The suite's programs are tiny and most are compiled once, so compiling dominates its time.
# XLA's backend optimization level 0 compiles them about 1.5x faster; it changes no float
# semantics (no fast-math), only how fast the compiled loops run, which tiny tests do not feel.
_FAST_COMPILE = "--xla_backend_optimization_level=0"
if _FAST_COMPILE not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {_FAST_COMPILE}".strip()
# One persistent compilation cache per session, shared by subprocesses and by pytest-xdist's
# workers (they inherit the environment of the process that loaded this file first): many tests
# compile the same small programs.
os.environ.setdefault("GROKJAX_TEST_JAX_CACHE", tempfile.mkdtemp(prefix="grokjax-jax-cache-"))

import jax  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_compilation_cache_dir", os.environ["GROKJAX_TEST_JAX_CACHE"])
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)

from grokjax.config import StaticConfig  # noqa: E402


def subprocess_env(**extra: str) -> dict:
    """The environment of a test's subprocess: CPU only, sharing this session's compilation cache
    (the subprocesses compile the same programs)."""
    cache = jax.config.jax_compilation_cache_dir
    shared = {"JAX_COMPILATION_CACHE_DIR": cache, "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
              "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"} if cache else {}
    return {**os.environ, "JAX_PLATFORMS": "cpu", **shared, **extra}


@pytest.fixture
def tiny_cfg() -> StaticConfig:
    return StaticConfig(op="add", p=11, width=32, steps=60, eval_every=20)


def assert_results_close(got, want, rtol: float, atol: float) -> None:
    """Two run directories hold the same runs: summary.csv (same columns and phases, numbers close)
    and metrics.npz (the same arrays, close)."""
    a, b = pd.read_csv(os.path.join(got, "summary.csv")), pd.read_csv(os.path.join(want, "summary.csv"))
    assert list(a.columns) == list(b.columns) and list(a["run"]) == list(b["run"])
    assert list(a["phase"]) == list(b["phase"])
    numeric = b.select_dtypes("number").columns
    np.testing.assert_allclose(a[numeric], b[numeric], rtol=rtol, atol=atol)
    with np.load(os.path.join(got, "metrics.npz")) as x, np.load(os.path.join(want, "metrics.npz")) as y:
        assert sorted(x.files) == sorted(y.files)
        for k in y.files:
            np.testing.assert_allclose(x[k], y[k], rtol=rtol, atol=atol, err_msg=k)
