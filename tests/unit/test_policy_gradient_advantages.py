"""GAE, n-step and V-trace advantage estimators against independent NumPy references."""

import numpy as np
import pytest
import tensorflow as tf

from seedrl.learner.agents.policy_gradient.advantages import gae, n_step, vtrace_advantages
from seedrl.learner.agents.vtrace.losses import transition_rewards_and_discounts
from tests.unit.test_vtrace import reference_vtrace


def random_inputs(rng, t=7, b=3, terminal_prob=0.2):
    values = rng.normal(size=(t + 1, b)).astype(np.float32)
    return dict(
        v_tm1=values[:-1], v_t=values[1:],
        r_t=rng.normal(size=(t, b)).astype(np.float32),
        discount_t=(0.9 * (rng.random((t, b)) > terminal_prob)).astype(np.float32),
    )


def reference_gae(v_tm1, v_t, r_t, discount_t, lambda_):
    """A_s = sum_{k>=0} (prod_{i<k} gamma_{s+i} lambda) delta_{s+k}, summed term by term."""
    t_len, b_len = v_tm1.shape
    deltas = r_t + discount_t * v_t - v_tm1
    advantages = np.zeros_like(v_tm1)
    for b in range(b_len):
        for s in range(t_len):
            weight = 1.0
            for k in range(s, t_len):
                advantages[s, b] += weight * deltas[k, b]
                weight *= discount_t[k, b] * lambda_
    return advantages


def reference_n_step(v_t, r_t, discount_t, n):
    """G_s by its definition: up to n rewards, stopped by the unroll's end, then a bootstrap value."""
    t_len, b_len = r_t.shape
    returns = np.zeros_like(r_t)
    for b in range(b_len):
        for s in range(t_len):
            total, weight = 0.0, 1.0
            last = min(s + n, t_len) - 1
            for k in range(s, last + 1):
                total += weight * r_t[k, b]
                weight *= discount_t[k, b]
            returns[s, b] = total + weight * v_t[last, b]
    return returns


@pytest.fixture(params=["eager", "tf.function"])
def compiled(request):
    return (lambda f: f) if request.param == "eager" else tf.function


@pytest.mark.parametrize("lambda_", [0.0, 0.5, 0.95, 1.0])
def test_gae_matches_the_explicit_sum(compiled, lambda_):
    inputs = random_inputs(np.random.default_rng(0))
    out = compiled(gae)(**inputs, lambda_=lambda_)
    expected = reference_gae(**inputs, lambda_=lambda_)
    np.testing.assert_allclose(out.advantages.numpy(), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out.targets.numpy(), expected + inputs["v_tm1"], rtol=1e-5, atol=1e-5)


def test_gae_with_lambda_0_is_the_td_error():
    inputs = random_inputs(np.random.default_rng(1))
    out = gae(**inputs, lambda_=0.0)
    td = inputs["r_t"] + inputs["discount_t"] * inputs["v_t"] - inputs["v_tm1"]
    np.testing.assert_allclose(out.advantages.numpy(), td, rtol=1e-6, atol=1e-6)


def test_gae_with_lambda_1_is_the_monte_carlo_return_bootstrapped_at_the_end():
    inputs = random_inputs(np.random.default_rng(2), t=6, b=2)
    out = gae(**inputs, lambda_=1.0)
    r, g, v_t = inputs["r_t"], inputs["discount_t"], inputs["v_t"]
    for b in range(2):
        for s in range(6):
            discounts = np.concatenate([[1.0], np.cumprod(g[s:, b])])
            expected = (discounts[:-1] * r[s:, b]).sum() + discounts[-1] * v_t[-1, b]
            assert out.targets.numpy()[s, b] == pytest.approx(expected, rel=1e-5, abs=1e-5)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 20])
def test_n_step_returns_match_their_definition(compiled, n):
    inputs = random_inputs(np.random.default_rng(3), t=7)
    out = compiled(lambda **kw: n_step(**kw, n=n))(**inputs)
    expected = reference_n_step(inputs["v_t"], inputs["r_t"], inputs["discount_t"], n)
    np.testing.assert_allclose(out.targets.numpy(), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out.advantages.numpy(), expected - inputs["v_tm1"], rtol=1e-5, atol=1e-5)


def test_one_step_return_is_the_td_target_and_a_long_one_the_lambda_1_return():
    inputs = random_inputs(np.random.default_rng(4), t=5)
    td_target = inputs["r_t"] + inputs["discount_t"] * inputs["v_t"]
    np.testing.assert_allclose(n_step(**inputs, n=1).targets.numpy(), td_target, rtol=1e-6)
    np.testing.assert_allclose(
        n_step(**inputs, n=5).targets.numpy(), gae(**inputs, lambda_=1.0).targets.numpy(), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("estimator", ["gae", "n_step"])
def test_terminated_transitions_do_not_bootstrap_and_truncated_ones_bootstrap_from_the_final_observation(estimator):
    # Unroll of 3 steps, 3 columns: running; terminated at step 1; truncated at step 1 with V(final) = 10.
    reward = np.array([[0, 0, 0], [1, 1, 1], [2, 2, 2]], np.float32)
    terminated = np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], bool)
    truncated = np.array([[0, 0, 0], [0, 0, 1], [0, 0, 0]], bool)
    truncation_value = np.array([[0, 0, 0], [0, 0, 10.0], [0, 0, 0]], np.float32)
    r_t, discount_t = transition_rewards_and_discounts(reward, terminated, truncated, truncation_value, 0.5)
    # The values of the next episode's first observation are huge: they must not leak back.
    values = np.array([[3, 3, 3], [4, 1000, 1000], [5, 5, 5]], np.float32)
    kwargs = {"lambda_": 1.0} if estimator == "gae" else {"n": 2}
    out = (gae if estimator == "gae" else n_step)(values[:-1], values[1:], r_t, discount_t, **kwargs)
    targets = out.targets.numpy()
    assert targets[0, 0] == pytest.approx(1 + 0.5 * (2 + 0.5 * 5))  # running: two rewards, then V(x_2)
    assert targets[0, 1] == pytest.approx(1.0)  # terminated: the reward alone
    assert targets[0, 2] == pytest.approx(1 + 0.5 * 10.0)  # truncated: bootstrapped from V(final obs)


@pytest.mark.parametrize("lambda_,rho_bar", [(1.0, 1.0), (0.9, 1.0), (0.95, 0.5)])
def test_vtrace_advantages_are_the_q_estimate_minus_the_value(compiled, lambda_, rho_bar):
    rng = np.random.default_rng(5)
    inputs = random_inputs(rng)
    rho = np.exp(rng.normal(scale=0.8, size=inputs["r_t"].shape)).astype(np.float32)
    out = compiled(lambda **kw: vtrace_advantages(**kw, lambda_=lambda_, clip_rho_threshold=rho_bar))(
        **inputs, rho_tm1=rho
    )
    vs, _ = reference_vtrace(**inputs, rho_tm1=rho, lambda_=lambda_, rho_bar=rho_bar)
    q = inputs["r_t"] + inputs["discount_t"] * np.concatenate([vs[1:], inputs["v_t"][-1:]])
    np.testing.assert_allclose(out.targets.numpy(), vs, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out.advantages.numpy(), q - inputs["v_tm1"], rtol=1e-5, atol=1e-5)


def test_on_policy_vtrace_targets_are_gae_targets():
    inputs = random_inputs(np.random.default_rng(6))
    ones = np.ones_like(inputs["r_t"])
    vtrace_out = vtrace_advantages(**inputs, rho_tm1=ones, lambda_=0.9, clip_rho_threshold=1.0)
    np.testing.assert_allclose(
        vtrace_out.targets.numpy(), gae(**inputs, lambda_=0.9).targets.numpy(), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("estimator", [
    lambda v, inputs: gae(v, **inputs, lambda_=0.9),
    lambda v, inputs: n_step(v, **inputs, n=3),
    lambda v, inputs: vtrace_advantages(v, **inputs, rho_tm1=tf.ones_like(v), lambda_=0.9, clip_rho_threshold=1.0),
])
def test_estimators_stop_gradients(estimator):
    inputs = {k: tf.constant(v) for k, v in random_inputs(np.random.default_rng(7)).items()}
    v = tf.Variable(inputs.pop("v_tm1"))
    with tf.GradientTape() as tape:
        out = estimator(v, inputs)
        total = tf.reduce_sum(out.targets) + tf.reduce_sum(out.advantages)
    assert tape.gradient(total, v) is None
