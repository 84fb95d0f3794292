"""The losses of grokjax.train.losses: MSE on one-hot targets, cross-entropy, masked means."""
import jax
import jax.numpy as jnp
import numpy as np
from tolerances import assert_f32_close

from grokjax.train.losses import cross_entropy, masked_mean, mse


def test_losses():
    logits = jnp.array([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    labels = jnp.array([0, 2])
    np.testing.assert_allclose(mse(logits, labels), [(1 + 0 + 0) / 3, (0 + 1 + 1) / 3])
    # Two programs for one logsumexp over 3 classes.
    assert_f32_close(cross_entropy(logits, labels), -jax.nn.log_softmax(logits)[jnp.arange(2), labels], k=3)
    assert np.isnan(masked_mean(jnp.ones(3), jnp.zeros(3, bool)))
