"""V-trace and the IMPALA loss against independent NumPy references (Espeholt et al. 2018)."""

import numpy as np
import pytest
import tensorflow as tf

from seedrl.learner.agents.vtrace.losses import impala_loss, transition_rewards_and_discounts, vtrace


def reference_vtrace(v_tm1, v_t, r_t, discount_t, rho_tm1, lambda_=1.0, rho_bar=1.0, pg_rho_bar=1.0):
    """The paper's explicit definition (eq. 1), summed term by term, one batch column at a time:

    v_s = V(x_s) + sum_{t=s}^{T-1} (prod_{i=s}^{t-1} gamma_i c_i) delta_t
    """
    t_len, b_len = v_tm1.shape
    vs = np.zeros_like(v_tm1)
    for b in range(b_len):
        for s in range(t_len):
            total, weight = 0.0, 1.0
            for t in range(s, t_len):
                delta = min(rho_bar, rho_tm1[t, b]) * (r_t[t, b] + discount_t[t, b] * v_t[t, b] - v_tm1[t, b])
                total += weight * delta
                weight *= discount_t[t, b] * lambda_ * min(1.0, rho_tm1[t, b])
            vs[s, b] = v_tm1[s, b] + total
    vs_next = np.concatenate([vs[1:], v_t[-1:]])
    pg = np.minimum(pg_rho_bar, rho_tm1) * (r_t + discount_t * vs_next - v_tm1)
    return vs, pg


def random_inputs(rng, t=7, b=3, terminal_prob=0.2):
    values = rng.normal(size=(t + 1, b)).astype(np.float32)
    return dict(
        v_tm1=values[:-1], v_t=values[1:],
        r_t=rng.normal(size=(t, b)).astype(np.float32),
        discount_t=(0.9 * (rng.random((t, b)) > terminal_prob)).astype(np.float32),
        rho_tm1=np.exp(rng.normal(scale=0.8, size=(t, b))).astype(np.float32),
    )


@pytest.fixture(params=["eager", "tf.function"])
def vtrace_fn(request):
    return vtrace if request.param == "eager" else tf.function(vtrace)


@pytest.mark.parametrize(
    "lambda_,rho_bar,pg_rho_bar", [(1.0, 1.0, 1.0), (0.9, 1.0, 1.0), (1.0, 0.5, 2.0), (0.5, 3.0, 0.7)]
)
def test_vtrace_matches_the_papers_definition(vtrace_fn, lambda_, rho_bar, pg_rho_bar):
    inputs = random_inputs(np.random.default_rng(0))
    out = vtrace_fn(
        **inputs, lambda_=lambda_, clip_rho_threshold=rho_bar, clip_pg_rho_threshold=pg_rho_bar
    )
    vs, pg = reference_vtrace(**inputs, lambda_=lambda_, rho_bar=rho_bar, pg_rho_bar=pg_rho_bar)
    np.testing.assert_allclose(out.vs.numpy(), vs, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out.pg_advantage.numpy(), pg, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out.errors.numpy(), vs - inputs["v_tm1"], rtol=1e-5, atol=1e-5)


def test_on_policy_vtrace_is_the_n_step_bootstrapped_return(vtrace_fn):
    inputs = random_inputs(np.random.default_rng(1), t=5, b=2, terminal_prob=0.0)
    inputs["rho_tm1"] = np.ones_like(inputs["rho_tm1"])
    out = vtrace_fn(**inputs)
    r, g, bootstrap = inputs["r_t"], inputs["discount_t"], inputs["v_t"][-1]
    expected = np.zeros_like(r)
    ret = bootstrap
    for t in reversed(range(len(r))):
        ret = r[t] + g[t] * ret
        expected[t] = ret
    np.testing.assert_allclose(out.vs.numpy(), expected, rtol=1e-5)


def test_an_episode_end_splits_the_trace_into_independent_halves(vtrace_fn):
    inputs = random_inputs(np.random.default_rng(2), t=8, b=2, terminal_prob=0.0)
    k = 3
    inputs["discount_t"][k] = 0.0  # the episode ends in transition k
    whole = vtrace_fn(**inputs).vs.numpy()
    first = vtrace_fn(**{name: x[: k + 1] for name, x in inputs.items()}).vs.numpy()
    second = vtrace_fn(**{name: x[k + 1 :] for name, x in inputs.items()}).vs.numpy()
    np.testing.assert_allclose(whole, np.concatenate([first, second]), rtol=1e-5, atol=1e-6)


def test_vtrace_stops_target_gradients_unless_asked():
    inputs = {k: tf.constant(v) for k, v in random_inputs(np.random.default_rng(3)).items()}
    v = tf.Variable(inputs.pop("v_tm1"))
    for stop, expect_gradient in ((True, False), (False, True)):
        with tf.GradientTape() as tape:
            out = vtrace(v, **inputs, stop_target_gradients=stop)
            target = tf.reduce_sum(out.vs)
        assert (tape.gradient(target, v) is not None) == expect_gradient


def test_terminated_transitions_do_not_bootstrap_and_truncated_ones_do():
    # Unroll of 3 steps (2 transitions), 3 columns: running, terminated at step 1, truncated at step 1.
    reward = np.array([[0, 0, 0], [1, 2, 3], [4, 5, 6]], np.float32)
    terminated = np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], bool)
    truncated = np.array([[0, 0, 0], [0, 0, 1], [0, 0, 0]], bool)
    truncation_value = np.array([[0, 0, 0], [0, 0, 10.0], [0, 0, 0]], np.float32)
    r_t, discount_t = transition_rewards_and_discounts(reward, terminated, truncated, truncation_value, 0.9)
    np.testing.assert_allclose(r_t.numpy(), [[1, 2, 3 + 0.9 * 10.0], [4, 5, 6]])
    np.testing.assert_allclose(discount_t.numpy(), [[0.9, 0.0, 0.0], [0.9, 0.9, 0.9]])


def test_value_target_of_a_truncated_step_bootstraps_from_the_final_observation():
    reward = np.array([[0.0], [1.0]], np.float32)
    r_t, discount_t = transition_rewards_and_discounts(
        reward, np.zeros((2, 1), bool), np.array([[False], [True]]), np.array([[0.0], [5.0]], np.float32), 0.5
    )
    # The next step's value (of the *new* episode) must not leak in: use a huge one.
    out = vtrace(tf.constant([[2.0]]), tf.constant([[1000.0]]), r_t, discount_t, tf.ones((1, 1)))
    np.testing.assert_allclose(out.vs.numpy(), [[1.0 + 0.5 * 5.0]])


def test_impala_loss_parts_match_a_numpy_computation():
    rng = np.random.default_rng(4)
    t, b, a = 4, 3, 5
    logits = rng.normal(size=(t + 1, b, a)).astype(np.float32)
    behaviour = rng.normal(size=(t + 1, b, a)).astype(np.float32)
    values = rng.normal(size=(t + 1, b)).astype(np.float32)
    actions = rng.integers(0, a, size=(t + 1, b)).astype(np.int32)
    r_t = rng.normal(size=(t, b)).astype(np.float32)
    discount_t = np.full((t, b), 0.9, np.float32)
    out = impala_loss(logits, values, actions, behaviour, r_t, discount_t, baseline_cost=0.5, entropy_cost=0.01)

    def log_softmax(x):
        x = x - x.max(-1, keepdims=True)
        return x - np.log(np.exp(x).sum(-1, keepdims=True))

    take = lambda lp: np.take_along_axis(lp[:-1], actions[:-1, :, None], -1)[..., 0]  # noqa: E731
    log_pi, log_mu = take(log_softmax(logits)), take(log_softmax(behaviour))
    rho = np.exp(log_pi - log_mu)
    vs, pg = reference_vtrace(values[:-1], values[1:], r_t, discount_t, rho)
    entropy = -(np.exp(log_softmax(logits[:-1])) * log_softmax(logits[:-1])).sum(-1)
    np.testing.assert_allclose(out.policy_loss.numpy(), -(pg * log_pi).mean(), rtol=1e-4)
    np.testing.assert_allclose(out.baseline_loss.numpy(), 0.5 * 0.5 * ((vs - values[:-1]) ** 2).mean(), rtol=1e-4)
    np.testing.assert_allclose(out.entropy_loss.numpy(), -0.01 * entropy.mean(), rtol=1e-4)
    np.testing.assert_allclose(
        out.loss.numpy(), out.policy_loss.numpy() + out.baseline_loss.numpy() + out.entropy_loss.numpy(), rtol=1e-5
    )
