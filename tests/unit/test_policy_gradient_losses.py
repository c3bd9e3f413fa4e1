"""Policy and value losses of the on-policy agent against NumPy, values and gradients."""

import numpy as np
import pytest
import tensorflow as tf

from seedrl.learner.agents.policy_gradient import losses


def loss_and_gradient(fn, log_pi, *args, **kwargs):
    """The loss of `fn(log_pi, ...)` and its gradient with respect to log_pi, as NumPy."""
    log_pi = tf.Variable(np.asarray(log_pi, np.float32))
    with tf.GradientTape() as tape:
        out = fn(log_pi, *args, **kwargs)
    return out, tape.gradient(out.loss, log_pi).numpy()


def test_vpg_loss_is_the_advantage_weighted_log_likelihood():
    rng = np.random.default_rng(0)
    log_pi, advantages = rng.normal(size=(4, 3)), rng.normal(size=(4, 3)).astype(np.float32)
    out, gradient = loss_and_gradient(losses.vpg_loss, log_pi, advantages)
    assert out.loss.numpy() == pytest.approx(-(advantages * log_pi).mean(), rel=1e-5)
    np.testing.assert_allclose(gradient, -advantages / 12, rtol=1e-5)


# Ratios around the clipping boundaries of epsilon = 0.2, with a positive and a negative advantage.
RATIOS = np.array([0.5, 0.79, 0.81, 1.0, 1.19, 1.21, 1.5], np.float32)


@pytest.mark.parametrize("advantage", [1.5, -2.0])
def test_ppo_clipped_surrogate_and_where_its_gradient_vanishes(advantage):
    epsilon = 0.2
    log_mu = np.log(np.full((1, len(RATIOS)), 0.3, np.float32))
    log_pi = log_mu + np.log(RATIOS)[None]
    advantages = np.full_like(log_mu, advantage)
    out, gradient = loss_and_gradient(losses.ppo_loss, log_pi, log_mu, advantages, epsilon=epsilon)

    surrogate = np.minimum(RATIOS * advantage, np.clip(RATIOS, 1 - epsilon, 1 + epsilon) * advantage)
    assert out.loss.numpy() == pytest.approx(-surrogate.mean(), rel=1e-5)
    # Clipped where the ratio left the interval in the advantage's direction: no gradient there.
    clipped = RATIOS > 1 + epsilon if advantage > 0 else RATIOS < 1 - epsilon
    expected_gradient = np.where(clipped, 0.0, -RATIOS * advantage / len(RATIOS))
    np.testing.assert_allclose(gradient[0], expected_gradient, rtol=1e-5, atol=1e-7)
    assert out.metrics["clip_fraction"].numpy() == pytest.approx(clipped.mean())


def test_vtrace_policy_loss_caps_the_importance_weights():
    log_mu = np.log(np.full((1, len(RATIOS)), 0.4, np.float32))
    log_pi = log_mu + np.log(RATIOS)[None]
    advantages = np.linspace(-1, 2, len(RATIOS), dtype=np.float32)[None]
    out, gradient = loss_and_gradient(losses.vtrace_policy_loss, log_pi, log_mu, advantages, max_importance_weight=1.0)
    weights = np.minimum(1.0, RATIOS)
    assert out.loss.numpy() == pytest.approx(-(weights * advantages[0] * log_pi[0]).mean(), rel=1e-5)
    np.testing.assert_allclose(gradient[0], -weights * advantages[0] / len(RATIOS), rtol=1e-5)


def test_awr_weights_are_exponentiated_advantages_capped_at_the_max_weight():
    advantages = np.array([[-2.0, 0.0, 1.0, 2.9, 3.1, 10.0]], np.float32)
    log_pi = np.log(np.full_like(advantages, 0.5))
    beta, max_weight = 1.0, 20.0  # log 20 = 2.996: the last two are capped
    out, gradient = loss_and_gradient(losses.awr_loss, log_pi, advantages, beta=beta, max_weight=max_weight)
    weights = np.minimum(np.exp(advantages[0] / beta), max_weight)
    assert out.loss.numpy() == pytest.approx(-(weights * log_pi[0]).mean(), rel=1e-5)
    np.testing.assert_allclose(gradient[0], -weights / advantages.size, rtol=1e-5)
    assert out.metrics["awr_clipped_fraction"].numpy() == pytest.approx(2 / 6)


def reference_vmpo(log_pi, advantages, eta, epsilon_eta, top_fraction):
    """V-MPO's eq. 3-4 over the top advantages, and dL_eta/d eta = epsilon_eta - KL(psi || uniform on top)."""
    flat_a, flat_lp = advantages.reshape(-1), log_pi.reshape(-1)
    k = max(1, int(len(flat_a) * top_fraction))
    top = np.argsort(-flat_a)[:k]
    weights = np.exp(flat_a[top] / eta - (flat_a[top] / eta).max())
    psi = weights / weights.sum()
    policy_loss = -(psi * flat_lp[top]).sum()
    log_mean_exp = np.log(np.mean(np.exp(flat_a[top] / eta)))
    temperature_loss = eta * epsilon_eta + eta * log_mean_exp
    kl_to_uniform = (psi * np.log(psi * k)).sum()
    return policy_loss, temperature_loss, epsilon_eta - kl_to_uniform, top


def test_vmpo_fits_the_top_half_and_its_temperature_gradient_tracks_the_kl_bound():
    rng = np.random.default_rng(1)
    advantages = rng.normal(size=(5, 4)).astype(np.float32)
    log_pi = np.log(rng.uniform(0.1, 0.9, size=(5, 4))).astype(np.float32)
    eta, epsilon_eta = 0.7, 0.1
    log_temperature = tf.Variable(np.log(eta), dtype=tf.float32)
    log_pi_var = tf.Variable(log_pi)
    with tf.GradientTape(persistent=True) as tape:
        out = losses.vmpo_loss(log_pi_var, advantages, log_temperature, epsilon_temperature=epsilon_eta)
    policy_loss, temperature_loss, d_eta, top = reference_vmpo(log_pi, advantages, eta, epsilon_eta, 0.5)
    assert out.loss.numpy() == pytest.approx(policy_loss + temperature_loss, rel=1e-4)
    # Only the top half of the transitions gets a policy gradient.
    gradient = tape.gradient(out.loss, log_pi_var).numpy().reshape(-1)
    assert set(np.flatnonzero(gradient)) == set(top)
    # d/d(log eta) = eta * dL/d eta.
    assert tape.gradient(out.loss, log_temperature).numpy() == pytest.approx(eta * d_eta, rel=1e-3, abs=1e-6)
    assert out.metrics["vmpo_temperature"].numpy() == pytest.approx(eta, rel=1e-6)


def test_trust_region_raises_alpha_above_the_bound_and_pulls_the_policy_back():
    kl_values = [np.array([[0.02, 0.04]], np.float32), np.array([[1e-5, 3e-5]], np.float32)]
    epsilons = [0.01, 1e-4]
    alphas = np.array([5.0, 2.0], np.float32)
    log_alphas = tf.Variable(np.log(alphas))
    kls = [tf.Variable(kl) for kl in kl_values]
    with tf.GradientTape(persistent=True) as tape:
        out = losses.trust_region_loss(kls, log_alphas, epsilons)
    means = [kl.mean() for kl in kl_values]
    expected = sum(a * (e - m) + a * m for a, e, m in zip(alphas, epsilons, means))
    assert out.loss.numpy() == pytest.approx(expected, rel=1e-5)
    # d/d log alpha_i = alpha_i (epsilon_i - KL_i): negative (alpha grows under descent) when KL exceeds epsilon.
    np.testing.assert_allclose(
        tape.gradient(out.loss, log_alphas).numpy(), alphas * (np.array(epsilons) - np.array(means)), rtol=1e-4
    )
    assert tape.gradient(out.loss, log_alphas).numpy()[0] < 0 < tape.gradient(out.loss, log_alphas).numpy()[1]
    for alpha, kl, variable in zip(alphas, kl_values, kls):
        np.testing.assert_allclose(tape.gradient(out.loss, variable).numpy(), np.full_like(kl, alpha / kl.size))


@pytest.mark.parametrize("error", [0.5, 1.0, 1.5, -3.0])
def test_huber_value_loss_is_quadratic_within_delta_and_linear_beyond(error):
    delta = 1.0
    out = losses.value_loss(tf.constant([[0.0]]), tf.constant([[error]]), kind="huber", huber_delta=delta)
    expected = 0.5 * error**2 if abs(error) <= delta else delta * (abs(error) - delta / 2)
    assert out.loss.numpy() == pytest.approx(expected)
    squared = losses.value_loss(tf.constant([[0.0]]), tf.constant([[error]]), kind="squared")
    assert squared.loss.numpy() == pytest.approx(0.5 * error**2)


def test_ppo_value_clipping_takes_the_larger_loss_and_stops_the_gradient_where_the_clipped_one_wins():
    old = np.array([[0.0, 0.0, 0.0, 0.0]], np.float32)
    values = tf.Variable(np.array([[0.5, 0.5, -0.5, 0.05]], np.float32))
    targets = np.array([[1.0, -1.0, 1.0, 1.0]], np.float32)
    clip = 0.1
    with tf.GradientTape() as tape:
        out = losses.value_loss(values, targets, old_values=old, clip=clip)
    v = values.numpy()
    unclipped = 0.5 * (targets - v) ** 2
    clipped_v = old + np.clip(v - old, -clip, clip)
    clipped = 0.5 * (targets - clipped_v) ** 2
    assert out.loss.numpy() == pytest.approx(np.maximum(unclipped, clipped).mean(), rel=1e-5)
    gradient = tape.gradient(out.loss, values).numpy()[0]
    # Column 0: moved 0.5 towards the target, the clipped loss is larger: no gradient. Column 1 moved away
    # from its target: the unclipped loss is larger and keeps its gradient. Column 3 is inside the clip range.
    assert gradient[0] == 0.0
    assert gradient[1] == pytest.approx(-(targets[0, 1] - v[0, 1]) / 4)
    assert gradient[3] == pytest.approx(-(targets[0, 3] - v[0, 3]) / 4)
