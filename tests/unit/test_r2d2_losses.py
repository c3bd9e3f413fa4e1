"""R2D2's maths against independent references: value rescaling, n-step double-Q targets, priorities, loss."""

import numpy as np
import pytest
import tensorflow as tf

from seedrl.learner.agents.r2d2.losses import (
    inverse_value_rescale,
    n_step_double_q_targets,
    r2d2_loss,
    sequence_priorities,
    value_rescale,
)

EAGER_AND_GRAPH = pytest.mark.parametrize("compiled", [False, True], ids=["eager", "tf.function"])


def run(fn, compiled, *args, **kwargs):
    return (tf.function(lambda *a: fn(*a, **kwargs)) if compiled else lambda *a: fn(*a, **kwargs))(*args).numpy()


def test_value_rescaling_matches_its_formula_and_inverts():
    x = np.array([-1e6, -250.0, -3.0, -0.5, 0.0, 0.5, 3.0, 250.0, 1e6], np.float64)
    eps = 1e-3
    expected = np.sign(x) * (np.sqrt(np.abs(x) + 1) - 1) + eps * x
    np.testing.assert_allclose(value_rescale(tf.constant(x), eps).numpy(), expected, rtol=1e-12)
    assert value_rescale(tf.constant(3.0)).numpy() == pytest.approx(1.003)
    np.testing.assert_allclose(inverse_value_rescale(value_rescale(tf.constant(x), eps), eps).numpy(), x, rtol=1e-9, atol=1e-9)
    y = np.linspace(-50, 50, 101)
    np.testing.assert_allclose(value_rescale(inverse_value_rescale(tf.constant(y), eps), eps).numpy(), y, atol=1e-9)


def h_float64(x, eps=1e-3):
    return np.sign(x) * (np.sqrt(np.abs(x) + 1) - 1) + eps * x


def h_inverse_float64(y, eps=1e-3):
    """Pohlen et al.'s closed form; in float64 its cancellation costs at most ~1e-10 relative here."""
    return np.sign(y) * (((np.sqrt(1 + 4 * eps * (np.abs(y) + 1 + eps)) - 1) / (2 * eps)) ** 2 - 1)


def test_value_rescaling_round_trips_in_float32_from_1e_minus_6_to_1e6():
    magnitudes = np.logspace(-6, 6, 241)
    x = np.concatenate([-magnitudes[::-1], [0.0], magnitudes]).astype(np.float32)
    rescaled = value_rescale(tf.constant(x)).numpy()
    assert rescaled.dtype == np.float32
    nonzero = x != 0
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(rescaled[nonzero], h_float64(x64)[nonzero], rtol=1e-6)
    back = inverse_value_rescale(tf.constant(rescaled)).numpy()
    np.testing.assert_allclose(back[nonzero], x[nonzero], rtol=2e-6)  # a few float32 ulps
    assert back[~nonzero] == 0.0
    # The inverse alone, on float32 inputs, against float64.
    y = rescaled.astype(np.float64)
    np.testing.assert_allclose(inverse_value_rescale(tf.constant(rescaled)).numpy()[nonzero],
                               h_inverse_float64(y)[nonzero], rtol=1e-6)


def reference_targets(q_target, q_selector, r, discount, n, eps):
    """Plain loops: G_s = sum of up to n discounted rewards, then the double-Q bootstrap, cut at the unroll's end."""
    t_len, batch, _ = q_target.shape
    out = np.zeros((t_len, batch))
    for b in range(batch):
        for s in range(t_len):
            steps = min(n, t_len - s)
            total, scale = 0.0, 1.0
            for k in range(steps):
                total += scale * r[s + k, b]
                scale *= discount[s + k, b]
            row = s + steps - 1  # q_*[i] belong to step i+1
            bootstrap = q_target[row, b, int(np.argmax(q_selector[row, b]))]
            if eps is not None:
                bootstrap = h_inverse_float64(bootstrap, eps)
            total += scale * bootstrap
            out[s, b] = h_float64(total, eps) if eps is not None else total
    return out


@EAGER_AND_GRAPH
@pytest.mark.parametrize("n, eps", [(1, None), (3, None), (5, 1e-3), (8, 1e-3)])
def test_n_step_double_q_targets_match_a_loop_reference(compiled, n, eps):
    rng = np.random.default_rng(n)
    t_len, batch, actions = 6, 3, 4
    q_target = rng.normal(size=(t_len, batch, actions)) * 3
    q_selector = rng.normal(size=(t_len, batch, actions))
    r = rng.normal(size=(t_len, batch))
    discount = np.full((t_len, batch), 0.9)
    discount[2, 0] = 0.0  # an episode ends in transition 2 of unroll 0
    discount[5, 2] = 0.0
    got = run(n_step_double_q_targets, compiled, *(tf.constant(a, tf.float64) for a in (q_target, q_selector, r, discount)),
              n=n, rescale_eps=eps)
    np.testing.assert_allclose(got, reference_targets(q_target, q_selector, r, discount, n, eps), rtol=1e-10)


@EAGER_AND_GRAPH
def test_float32_targets_match_the_float64_reference(compiled):
    """Q-values of every scale, from 1e-5 to 1e2 in the rescaled space (raw returns up to ~1e5)."""
    rng = np.random.default_rng(7)
    t_len, batch, actions = 8, 16, 3
    scale = 10.0 ** rng.uniform(-5, 2, size=(t_len, batch, actions))
    q_target = (rng.choice([-1.0, 1.0], size=scale.shape) * scale).astype(np.float32)
    q_selector = rng.normal(size=(t_len, batch, actions)).astype(np.float32)
    r = (rng.normal(size=(t_len, batch)) * 10.0 ** rng.uniform(-6, 0, size=(t_len, batch))).astype(np.float32)
    discount = np.where(rng.uniform(size=(t_len, batch)) < 0.1, 0.0, 0.997).astype(np.float32)
    got = run(n_step_double_q_targets, compiled, *(tf.constant(a) for a in (q_target, q_selector, r, discount)),
              n=5, rescale_eps=1e-3)
    expected = reference_targets(*(a.astype(np.float64) for a in (q_target, q_selector, r, discount)), 5, 1e-3)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)


def test_hand_built_two_step_targets_use_the_selector_argmax_and_stop_at_an_episode_end():
    # One unroll of T=3, two actions. The selector prefers action 1; the target network values it less.
    q_target = np.array([[[10.0, 1.0]], [[20.0, 2.0]], [[30.0, 3.0]]])
    q_selector = np.array([[[0.0, 1.0]], [[0.0, 1.0]], [[0.0, 1.0]]])
    r = np.array([[1.0], [2.0], [4.0]])
    discount = np.array([[0.5], [0.0], [0.5]])  # the episode ends arriving at step 2
    got = n_step_double_q_targets(*(tf.constant(a) for a in (q_target, q_selector, r, discount)), n=2, rescale_eps=None)
    # s=0: r0 + 0.5 r1 + 0.5*0*Q'(x2, 1) = 1 + 1 = 2; s=1: r1 + 0 = 2; s=2: r2 + 0.5 Q'(x3, 1) = 4 + 1.5.
    np.testing.assert_allclose(got.numpy()[:, 0], [2.0, 2.0, 5.5])


def test_sequence_priorities_mix_max_and_mean():
    td = np.array([[1.0, -4.0], [-3.0, 0.0], [2.0, 1.0]])
    got = sequence_priorities(tf.constant(td), 0.9).numpy()
    np.testing.assert_allclose(got, [0.9 * 3 + 0.1 * 2, 0.9 * 4 + 0.1 * 5 / 3])


def test_loss_weights_each_unroll_and_its_gradient_moves_q_towards_the_target():
    rng = np.random.default_rng(0)
    t_len, batch, actions = 4, 2, 3
    q = tf.Variable(rng.normal(size=(t_len, batch, actions)))
    a = tf.constant(rng.integers(0, actions, size=(t_len, batch)))
    args = (tf.constant(rng.normal(size=(t_len, batch, actions))), tf.constant(rng.normal(size=(t_len, batch, actions))),
            tf.constant(rng.normal(size=(t_len, batch))), tf.constant(np.full((t_len, batch), 0.9)))
    weights = tf.constant([1.0, 0.0], tf.float64)
    with tf.GradientTape() as tape:
        out = r2d2_loss(q, a, *args, weights, n=2, rescale_eps=1e-3)
    targets = n_step_double_q_targets(*args, n=2).numpy()
    taken = np.take_along_axis(q.numpy(), a.numpy()[..., None], axis=-1)[..., 0]
    np.testing.assert_allclose(out.td_errors.numpy(), targets - taken)
    expected = np.mean(np.array([1.0, 0.0])[None] * 0.5 * (targets - taken) ** 2)
    assert out.loss.numpy() == pytest.approx(expected)
    gradient = tape.gradient(out.loss, q).numpy()
    assert np.all(gradient[:, 1] == 0)  # a zero weight trains nothing
    np.testing.assert_allclose(out.priorities.numpy(), 0.9 * np.abs(targets - taken).max(0) + 0.1 * np.abs(targets - taken).mean(0))
