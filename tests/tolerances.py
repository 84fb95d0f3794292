"""Float32 tolerances for comparing two differently compiled programs, argued from the format
rather than measured on one machine.

u = 2^-24 is float32's unit roundoff. Two differently compiled programs (vmapped vs alone,
sharded vs one device, fused or tiled differently, another XLA version or CPU) may add the K terms
of a reduction (a dot product, a sum over rows) in another order. Each order is within K u sum|terms|
of the exact sum (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., eq. 3.5), so the
two differ by up to 2 K u, relative to the magnitudes summed. Elementwise operations round correctly
in either program and add only a few u. Over T dependent steps (training) the roundings of
different steps are independent and add like a random walk, sqrt(T); SAFETY covers the few chained
reductions of one step and mild amplification by the dynamics. Results near zero (a cancelling sum)
are compared against the largest magnitude of their array instead. Discrete metrics (accuracy) can
differ only where two logits tie within that error.

Exact equality is kept where the same compiled program reruns (a resume, a read-back) or the
semantics are integer or bitwise (splits, PRNG draws, gathers, copies).
"""
import jax
import numpy as np

U32 = 2.0 ** -24
SAFETY = 4.0
# Every conftest.tiny_cfg run (p = 11, width 32): no reduction longer than the 121 rows of the
# table, 60 steps.
TINY_K, TINY_STEPS = 121, 60


def f32_rtol(k: int, steps: int = 1) -> float:
    """Relative tolerance between two float32 programs: reductions of <= k terms, `steps` dependent steps."""
    return SAFETY * 2 * k * U32 * float(np.sqrt(steps))


def assert_f32_close(got, want, k: int, steps: int = 1) -> None:
    """Pytrees equal up to float32 reassociation: each float leaf within f32_rtol(k, steps) relative,
    and the same times its largest |value| absolute; other leaves exactly."""
    rtol = f32_rtol(k, steps)

    def check(path, a, b):
        a, b = np.asarray(a), np.asarray(b)
        name = jax.tree_util.keystr(path)
        assert a.shape == b.shape, (name, a.shape, b.shape)
        if not np.issubdtype(b.dtype, np.floating):
            np.testing.assert_array_equal(a, b, err_msg=name)
            return
        finite = np.abs(b[np.isfinite(b)])
        scale = float(finite.max()) if finite.size else 0.0
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * scale, err_msg=name)

    jax.tree_util.tree_map_with_path(check, got, want)
