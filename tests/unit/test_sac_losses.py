"""SAC's maths against independent references: tanh-Gaussian log-prob and entropy, soft targets, losses, Polyak."""

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
