"""SAC's maths against independent references: tanh-Gaussian log-prob (to deep saturation) and entropy, soft targets, losses, Polyak."""

import math

import numpy as np
import pytest
import tensorflow as tf

from seedrl.learner.agents.sac.losses import actor_loss, critic_loss, polyak_update, soft_q_targets, temperature_loss
from seedrl.learner.distributions import TanhGaussian

LOW, HIGH = np.array([-2.0, 0.0], np.float32), np.array([2.0, 1.0], np.float32)


def normal_pdf(x, mean, std):
    return np.exp(-0.5 * ((x - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))


def test_tanh_gaussian_log_prob_is_the_change_of_variables_density_in_the_env_bounds():
    distribution = TanhGaussian(LOW, HIGH)
    params = tf.constant([[0.3, -0.5, 0.2, -1.0]])
    mean, std = (t.numpy()[0] for t in distribution.mean_and_std(params))
    actions = np.array([[1.2, 0.9]], np.float32)
    # Reference: a = c + w tanh(u)  =>  p(a) = N(u) / (w (1 - tanh(u)^2)), per dimension, u = atanh((a - c) / w).
    center, width = (HIGH + LOW) / 2, (HIGH - LOW) / 2
    u = np.arctanh((actions[0] - center) / width)
    expected = np.sum(np.log(normal_pdf(u, mean, std)) - np.log(width * (1 - np.tanh(u) ** 2)))
    assert distribution.log_prob(params, tf.constant(actions)).numpy()[0] == pytest.approx(expected, rel=1e-4)


def exact_log_pi_and_gradient(mean, std, noise, half_width):
    """float64 reference: log pi of u = mean + std noise squashed to c + w tanh(u), summed over the last
    axis, and its gradients with respect to the mean and the std (through u, noise fixed).

    log(1 - tanh(u)^2) = log(4 / (e^u + e^-u)^2) = 2 log 2 - 2 logaddexp(u, -u).
    """
    u = mean + std * noise
    log_dtanh = 2 * math.log(2) - 2 * np.logaddexp(u, -u)
    log_pi = (-0.5 * noise**2 - np.log(std) - 0.5 * math.log(2 * math.pi) - np.log(half_width) - log_dtanh).sum(-1)
    # d/du of -log(1 - tanh(u)^2) is 2 tanh(u); du/dmean = 1, du/dstd = noise; d log N(noise) / dstd = -1/std.
    return log_pi, 2 * np.tanh(u), -1 / std + 2 * np.tanh(u) * noise


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "tf.function"])
def test_log_prob_of_a_sample_is_exact_far_into_saturation(compiled):
    """|u| up to 20, where float32's tanh is +-1 from |u| ~ 9: value and gradients against float64."""
    distribution = TanhGaussian(LOW, HIGH, initial_std=1.0, min_std=0.0)
    rng = np.random.default_rng(3)
    n = 400
    mean = np.stack([np.linspace(-18, 18, n), -np.linspace(-18, 18, n)], -1)
    noise = rng.uniform(-2, 2, size=(n, 2))
    raw_std = rng.uniform(-1, 0, size=(n, 2))  # std in (0.3, 1)
    params = tf.Variable(np.concatenate([mean, raw_std], -1).astype(np.float32))
    noise32 = tf.constant(noise.astype(np.float32))

    sample_with_log_prob = tf.function(distribution.sample_with_log_prob) if compiled else distribution.sample_with_log_prob
    with tf.GradientTape() as tape:
        actions, log_pi = sample_with_log_prob(params, noise32)
    gradient = tape.gradient(log_pi, params).numpy().astype(np.float64)

    mean32, std32 = (t.numpy().astype(np.float64) for t in distribution.mean_and_std(params))
    u = mean32 + std32 * noise
    assert np.abs(u).max() > 19 and np.mean(np.abs(u) > 9) > 0.4
    width = ((HIGH - LOW) / 2).astype(np.float64)
    expected, d_mean, d_std = exact_log_pi_and_gradient(mean32, std32, noise, width)
    np.testing.assert_allclose(log_pi.numpy(), expected, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(gradient[:, :2], d_mean, rtol=1e-5, atol=1e-5)
    # std = softplus(raw + b), b = log(e - 1) for initial_std 1: d std / d raw = sigmoid(raw + b).
    d_std_d_raw = 1 / (1 + np.exp(-(raw_std.astype(np.float32).astype(np.float64) + math.log(math.e - 1))))
    np.testing.assert_allclose(gradient[:, 2:], d_std * d_std_d_raw, rtol=1e-4, atol=1e-4)
    center = (HIGH + LOW) / 2
    np.testing.assert_allclose(actions.numpy(), center + width * np.tanh(u), rtol=1e-5, atol=1e-6)


def test_tanh_gaussian_samples_stay_in_bounds_and_their_entropy_matches_numerical_integration():
    tf.random.set_seed(0)
    distribution = TanhGaussian(np.array([-2.0], np.float32), np.array([2.0], np.float32))
    params = tf.constant([[0.4, 0.3]])
    samples = distribution.sample(tf.repeat(params, 20_000, axis=0))
    assert np.all(np.abs(samples.numpy()) < 2.0)
    # Entropy = -E[log pi(a)], estimated from samples, against -integral p log p over (-2, 2) on a fine grid.
    log_pi = distribution.log_prob(tf.repeat(params, 20_000, axis=0), samples).numpy()
    mean, std = (t.numpy()[0, 0] for t in distribution.mean_and_std(params))
    a = np.linspace(-2, 2, 400_001)[1:-1]
    u = np.arctanh(a / 2)
    density = normal_pdf(u, mean, std) / (2 * (1 - np.tanh(u) ** 2))
    integrand = np.where(density > 0, density * np.log(np.maximum(density, 1e-300)), 0.0)
    entropy = -np.sum(integrand) * (a[1] - a[0])
    assert -log_pi.mean() == pytest.approx(entropy, abs=0.03)
    assert distribution.entropy(tf.repeat(params, 20_000, axis=0)).numpy().mean() == pytest.approx(entropy, abs=0.03)


def test_soft_targets_take_the_smaller_critic_and_subtract_the_entropy_term():
    r = tf.constant([1.0, 0.5, -1.0])
    discount = tf.constant([0.9, 0.0, 0.99])
    q1, q2 = tf.constant([2.0, 5.0, -3.0]), tf.constant([1.0, 6.0, -4.0])
    log_pi = tf.constant([-0.5, 0.2, 1.0])
    got = soft_q_targets(r, discount, q1, q2, log_pi, tf.constant(0.1)).numpy()
    expected = [1.0 + 0.9 * (1.0 + 0.05), 0.5, -1.0 + 0.99 * (-4.0 - 0.1)]
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_critic_actor_and_temperature_losses_and_their_gradients():
    q1, q2, y = tf.Variable([1.0, 2.0]), tf.Variable([0.0, 4.0]), tf.constant([1.5, 2.0])
    w = tf.constant([1.0, 0.5])
    with tf.GradientTape() as tape:
        loss = critic_loss(q1, q2, y, w)
    assert loss.numpy() == pytest.approx(np.mean([1.0 * 0.5 * (0.25 + 2.25), 0.5 * 0.5 * (0.0 + 4.0)]))
    g1, g2 = tape.gradient(loss, [q1, q2])
    np.testing.assert_allclose(g1.numpy(), [0.5 * (1.0 - 1.5), 0.5 * 0.5 * 0.0])
    np.testing.assert_allclose(g2.numpy(), [0.5 * (0.0 - 1.5), 0.5 * 0.5 * 2.0])

    log_pi = tf.constant([-1.0, 0.5])
    alpha = tf.Variable(0.2)
    with tf.GradientTape() as tape:
        loss = actor_loss(tf.constant([3.0, 1.0]), tf.constant([2.0, 4.0]), log_pi, alpha, tf.ones(2))
    assert loss.numpy() == pytest.approx(np.mean([0.2 * -1.0 - 2.0, 0.2 * 0.5 - 1.0]))
    assert tape.gradient(loss, alpha) is None  # the actor does not move the temperature

    log_alpha = tf.Variable(0.0)
    with tf.GradientTape() as tape:
        loss = temperature_loss(log_alpha, tf.constant([0.5, 1.5]), target_entropy=-1.0)
    # Entropy -log pi = -1 < target -1? equal on average: the gradient is -mean(log pi + H) = -(1.0 - 1.0) = 0.
    assert tape.gradient(loss, log_alpha).numpy() == pytest.approx(0.0)
    with tf.GradientTape() as tape:
        loss = temperature_loss(log_alpha, tf.constant([2.0, 2.0]), target_entropy=-1.0)
    # Entropy -2 below the target -1: descending the gradient raises alpha.
    assert tape.gradient(loss, log_alpha).numpy() == pytest.approx(-1.0)


def test_polyak_update_moves_targets_a_fraction_tau_and_tau_one_copies():
    online = [tf.Variable([1.0, 2.0]), tf.Variable(3.0)]
    target = [tf.Variable([0.0, 0.0]), tf.Variable(1.0)]
    polyak_update(target, online, 0.1)
    np.testing.assert_allclose(target[0].numpy(), [0.1, 0.2])
    assert target[1].numpy() == pytest.approx(1.2)
    tf.function(lambda: polyak_update(target, online, 1.0))()
    np.testing.assert_allclose(target[0].numpy(), [1.0, 2.0])
    assert target[1].numpy() == pytest.approx(3.0)
