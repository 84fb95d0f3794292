"""Shared fixtures: tiny configurations that train in well under a second."""
import os

# Tests run on the CPU even where an accelerator is present, and quietly.
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tempfile  # noqa: E402

import jax  # noqa: E402
import pytest  # noqa: E402

# Many tests compile the same small programs; a persistent cache (per session) lets
# XLA reuse them across tests instead of recompiling.
jax.config.update("jax_compilation_cache_dir", os.environ.get("GROKJAX_TEST_JAX_CACHE",
                                                              tempfile.mkdtemp(prefix="grokjax-jax-cache-")))
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)

from grokjax.config import StaticConfig  # noqa: E402


@pytest.fixture
def tiny_cfg() -> StaticConfig:
    return StaticConfig(op="add", p=11, width=32, steps=60, eval_every=20)
