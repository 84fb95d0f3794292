"""--matmul_dtype=bfloat16: bf16 matmul operands, float32 accumulation, float32 everything else."""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tolerances import assert_f32_close

from grokjax.config import ConfigError, validate_static
from grokjax.data.datasets import operation_dataset
from grokjax.models.base import make_einsum
from grokjax.models.gcn import make_gcn
from grokjax.models.lstm import make_lstm
from grokjax.models.mlp import make_mlp
from grokjax.models.transformer import make_transformer
from grokjax.models.vector_mlp import make_vector_mlp
from grokjax.train.run import make_run_fns
from grokjax.train.sweep import make_grid

P = 11
TABLE = np.stack(np.meshgrid(np.arange(P), np.arange(P), indexing="ij"), -1).reshape(-1, 2)
BF16_EPS = 2.0 ** -8  # bfloat16 keeps 8 significant bits


def _graphs(rng):
    adj = rng.uniform(size=(4, 6, 6)).astype(np.float32)
    return {"nodes": rng.normal(size=(4, 6, 5)).astype(np.float32), "adj": adj, "mask": np.ones((4, 6), bool)}


# (factory taking matmul_dtype, inputs): every model grokjax builds.
MODELS = {
    "doshi_mlp": (lambda d: make_mlp(P, width=32, matmul_dtype=d), TABLE),
    "doshi_mlp_minibatch": (lambda d: make_mlp(P, width=32, matmul_dtype=d), TABLE[::-3]),
    "mlp_depth3_relu": (lambda d: make_mlp(P, width=32, depth=3, activation="relu", matmul_dtype=d), TABLE),
    "transformer": (lambda d: make_transformer(P, width=16, depth=1, heads=2, matmul_dtype=d), TABLE),
    "vector_mlp": (lambda d: make_vector_mlp([5, 16, 16, 3], activation="tanh", matmul_dtype=d),
                   np.random.default_rng(0).normal(size=(8, 5)).astype(np.float32)),
    "lstm": (lambda d: make_lstm(20, 2, embed=8, hidden=16, layers=1, matmul_dtype=d),
             np.random.default_rng(0).integers(0, 21, size=(4, 7))),
    "gcn": (lambda d: make_gcn(5, hidden=16, matmul_dtype=d), _graphs(np.random.default_rng(0))),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_bf16_matmuls_match_fp32_within_bf16_tolerance(name):
    factory, inputs = MODELS[name]
    fp32, bf16 = factory("float32"), factory("bfloat16")
    params, state = fp32.init(jax.random.key(0))

    @jax.jit  # one compiled program per model: eager dispatch compiles every op separately
    def compare(params):
        out16, vjp = jax.vjp(lambda p: bf16.apply(p, state, inputs, train=False)[0], params)
        return fp32.apply(params, state, inputs, train=False)[0], out16, vjp(jnp.ones_like(out16))[0]
    out32, out16, grads = compare(params)
    assert out16.dtype == jnp.float32  # float32 accumulation and output
    err = float(jnp.max(jnp.abs(out16 - out32)) / jnp.max(jnp.abs(out32)))
    # A few roundings of 2^-8 each; and not 0: the bf16 path really runs.
    assert 0 < err < 8 * BF16_EPS, err
    assert {leaf.dtype for leaf in jax.tree.leaves(grads)} == {jnp.dtype(jnp.float32)}


def test_the_mlp_table_path_equals_its_one_hot_path_in_bf16():
    model = make_mlp(P, width=32, matmul_dtype="bfloat16")
    params, state = model.init(jax.random.key(1))
    table = jax.jit(lambda p: model.apply(p, state, TABLE, train=False)[0])(params)  # broadcast-add first layer
    one_hot = jax.jit(lambda p, x: model.apply(p, state, x, train=False)[0])(params, TABLE)  # traced input
    # The first layer is the same float32 addition of bf16-rounded rows in both, so the hidden
    # activations agree; the output sums 32 exact bf16 products in float32 in two programs:
    # float32 reassociation over K = 32.
    assert_f32_close(table, one_hot, k=32)


def test_bf16_training_keeps_float32_parameters_and_optimizer_state(tiny_cfg):
    cfg = dataclasses.replace(tiny_cfg, matmul_dtype="bfloat16")
    fns = make_run_fns(cfg, operation_dataset(cfg.op, cfg.p))
    hp = jax.tree.map(lambda a: a[0], make_grid({"lr": 0.01, "wd": 1.0}))
    state = fns.init(hp)
    chunk = jax.jit(lambda s, h: fns.train_chunk(s, h, 5))
    assert "bf16" in chunk.lower(state, hp).as_text()  # the step's matmuls are bf16
    state, metrics = chunk(state, hp)
    floats = [leaf for leaf in jax.tree.leaves((state.params, state.opt_state))
              if jnp.issubdtype(leaf.dtype, jnp.floating)]
    assert floats and all(leaf.dtype == jnp.float32 for leaf in floats)
    assert np.isfinite(float(metrics["train_loss"])) and not bool(state.diverged)


def test_a_bad_matmul_dtype_is_one_line_naming_the_flag(tiny_cfg):
    with pytest.raises(ConfigError, match=r"^--matmul_dtype=float16 is not allowed; choose one of: float32, bfloat16$"):
        validate_static(dataclasses.replace(tiny_cfg, matmul_dtype="float16"))
    with pytest.raises(ConfigError, match="--matmul_dtype=fp8"):
        make_einsum("fp8")
