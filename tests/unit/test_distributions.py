"""Action distributions against NumPy formulas, sampling frequencies and numerical integration."""

import math

import numpy as np
import pytest
import tensorflow as tf

from seedrl.learner.distributions import Categorical, ClippedGaussian, Gaussian, TanhGaussian

LOW, HIGH = np.array([-1.0, 0.0], np.float32), np.array([1.0, 2.0], np.float32)


@pytest.fixture(autouse=True)
def seeded():
    """Sampling tests compare statistics within a few standard errors: fixed seeds keep them deterministic."""
    tf.random.set_seed(0)


def log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def normal_log_density(x, mean, std):
    return -0.5 * ((x - mean) / std) ** 2 - np.log(std) - 0.5 * np.log(2 * np.pi)


def normal_cdf(x):
    return 0.5 * math.erfc(-x / math.sqrt(2))


def test_categorical_log_prob_entropy_and_kl():
    rng = np.random.default_rng(0)
    p, q = rng.normal(size=(2, 3, 4)).astype(np.float32), rng.normal(size=(2, 3, 4)).astype(np.float32)
    actions = rng.integers(0, 4, size=(2, 3)).astype(np.int32)
    dist = Categorical(4)
    lp, lq = log_softmax(p), log_softmax(q)
    np.testing.assert_allclose(dist.log_prob(p, actions).numpy(), np.take_along_axis(lp, actions[..., None], -1)[..., 0], rtol=1e-5)
    np.testing.assert_allclose(dist.entropy(p).numpy(), -(np.exp(lp) * lp).sum(-1), rtol=1e-5)
    np.testing.assert_allclose(dist.kl(p, q).numpy(), (np.exp(lp) * (lp - lq)).sum(-1), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(dist.mode(p).numpy(), p.argmax(-1))
    assert dist.param_size == 4 and dist.action_shape == ()


def test_categorical_samples_follow_the_probabilities():
    logits = np.log(np.array([[0.1, 0.2, 0.7]], np.float32))
    samples = Categorical(3).sample(np.repeat(logits, 20_000, axis=0)).numpy()
    np.testing.assert_allclose(np.bincount(samples, minlength=3) / len(samples), [0.1, 0.2, 0.7], atol=0.015)


def test_a_zero_raw_output_gives_the_initial_std():
    dist = Gaussian(3, initial_std=0.5, min_std=0.01)
    mean, std = dist.mean_and_std(tf.zeros([2, 6]))
    np.testing.assert_allclose(std.numpy(), 0.5, rtol=1e-5)
    np.testing.assert_allclose(mean.numpy(), 0.0)
    _, tiny = dist.mean_and_std(tf.concat([tf.zeros([1, 3]), tf.fill([1, 3], -100.0)], axis=-1))
    np.testing.assert_allclose(tiny.numpy(), 0.01, rtol=1e-4)  # never below min_std


def test_gaussian_log_prob_entropy_and_kl():
    rng = np.random.default_rng(1)
    dist = Gaussian(2, initial_std=1.0, min_std=0.0)
    p, q = rng.normal(size=(5, 4)).astype(np.float32), rng.normal(size=(5, 4)).astype(np.float32)
    actions = rng.normal(size=(5, 2)).astype(np.float32)
    (mp, sp), (mq, sq) = [[t.numpy() for t in dist.mean_and_std(x)] for x in (p, q)]
    np.testing.assert_allclose(dist.log_prob(p, actions).numpy(), normal_log_density(actions, mp, sp).sum(-1), rtol=1e-5)
    np.testing.assert_allclose(dist.entropy(p).numpy(), (0.5 * np.log(2 * np.pi * np.e * sp**2)).sum(-1), rtol=1e-5)
    kl = (np.log(sq / sp) + (sp**2 + (mp - mq) ** 2) / (2 * sq**2) - 0.5).sum(-1)
    np.testing.assert_allclose(dist.kl(p, q).numpy(), kl, rtol=1e-4, atol=1e-6)
    # With equal scales the two decoupled parts add up to the KL; the scale part is then 0.
    same_std = np.concatenate([q[:, :2], p[:, 2:]], axis=-1)
    kl_mean, kl_std = dist.kl_components(p, same_std)
    np.testing.assert_allclose((kl_mean + kl_std).numpy(), dist.kl(p, same_std).numpy(), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(kl_std.numpy(), 0.0, atol=1e-6)


def test_gaussian_samples_have_the_mean_and_std():
    dist = Gaussian(2, initial_std=1.0, min_std=0.0)
    params = np.array([[1.0, -2.0, 0.0, 0.0]], np.float32)
    samples = dist.sample(np.repeat(params, 20_000, axis=0)).numpy()
    np.testing.assert_allclose(samples.mean(0), [1.0, -2.0], atol=0.03)
    np.testing.assert_allclose(samples.std(0), [1.0, 1.0], atol=0.03)


def test_tanh_gaussian_samples_stay_inside_and_log_prob_is_the_change_of_variables():
    dist = TanhGaussian(LOW, HIGH, initial_std=1.0, min_std=0.0)
    rng = np.random.default_rng(2)
    params = rng.normal(size=(1000, 4)).astype(np.float32)
    actions = dist.sample(params).numpy()
    assert np.all(actions >= LOW) and np.all(actions <= HIGH)  # float32 tanh reaches +-1 for |u| > 9
    mean, std = [t.numpy() for t in dist.mean_and_std(params)]
    center, half = (HIGH + LOW) / 2, (HIGH - LOW) / 2
    with np.errstate(divide="ignore", invalid="ignore"):  # saturated actions give atanh(+-1): left out below
        u = np.arctanh((actions.astype(np.float64) - center) / half)
        expected = (normal_log_density(u, mean, std) - np.log(half * (1 - np.tanh(u) ** 2))).sum(-1)
    inside = np.all(np.abs(np.tanh(u)) < 0.999, axis=-1)  # float32 atanh is imprecise at the edges
    np.testing.assert_allclose(dist.log_prob(params, actions).numpy()[inside], expected[inside], rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(dist.mode(params).numpy(), center + half * np.tanh(mean), rtol=1e-5, atol=1e-6)


def test_tanh_gaussian_density_integrates_to_one_and_its_kl_is_the_gaussians():
    dist = TanhGaussian(np.array([-2.0], np.float32), np.array([2.0], np.float32), initial_std=1.0, min_std=0.0)
    params = np.array([[0.7, 0.3]], np.float32)
    grid = np.linspace(-2, 2, 200_001, dtype=np.float32)[1:-1, None]
    density = np.exp(dist.log_prob(np.repeat(params, len(grid), 0), grid).numpy())
    assert np.trapezoid(density, grid[:, 0]) == pytest.approx(1.0, abs=2e-3)
    other = np.array([[-0.2, -0.5]], np.float32)
    assert dist.kl(params, other).numpy() == pytest.approx(Gaussian(1, 1.0, 0.0).kl(params, other).numpy())


def test_tanh_gaussian_entropy_estimate_matches_monte_carlo():
    dist = TanhGaussian(LOW, HIGH, initial_std=1.0, min_std=0.0)
    params = np.repeat(np.array([[0.3, -0.4, 0.2, -0.6]], np.float32), 50_000, axis=0)
    estimate = dist.entropy(params).numpy().mean()
    monte_carlo = -dist.log_prob(params, dist.sample(params)).numpy().mean()
    assert estimate == pytest.approx(monte_carlo, abs=0.02)


def test_clipped_gaussian_puts_the_tail_mass_on_the_bounds():
    dist = ClippedGaussian(LOW, HIGH, initial_std=1.0, min_std=0.0)
    params = np.array([[0.8, 1.5, 0.2, 0.0]], np.float32)
    mean, std = [t.numpy()[0] for t in dist.mean_and_std(params)]
    samples = dist.sample(np.repeat(params, 20_000, axis=0)).numpy()
    assert np.all(samples >= LOW) and np.all(samples <= HIGH)
    at_high = np.mean(samples[:, 0] == HIGH[0])
    assert at_high == pytest.approx(1 - normal_cdf((HIGH[0] - mean[0]) / std[0]), abs=0.015)

    on_bounds = np.array([[LOW[0], HIGH[1]], [HIGH[0], 1.0]], np.float32)
    log_prob = dist.log_prob(np.repeat(params, 2, 0), on_bounds).numpy()
    below_0 = math.log(normal_cdf((LOW[0] - mean[0]) / std[0]))
    above_1 = math.log(1 - normal_cdf((HIGH[1] - mean[1]) / std[1]))
    above_0 = math.log(1 - normal_cdf((HIGH[0] - mean[0]) / std[0]))
    inside_1 = normal_log_density(1.0, mean[1], std[1])
    np.testing.assert_allclose(log_prob, [below_0 + above_1, above_0 + inside_1], rtol=1e-4)


def test_clipped_gaussian_density_plus_bound_masses_is_one():
    dist = ClippedGaussian(np.array([-1.0], np.float32), np.array([1.0], np.float32), initial_std=1.0, min_std=0.0)
    params = np.array([[0.4, 0.5]], np.float32)
    grid = np.linspace(-1, 1, 100_001, dtype=np.float32)
    log_prob = dist.log_prob(np.repeat(params, len(grid), 0), grid[:, None]).numpy()
    interior = np.trapezoid(np.exp(log_prob[1:-1]), grid[1:-1])
    assert interior + np.exp(log_prob[0]) + np.exp(log_prob[-1]) == pytest.approx(1.0, abs=1e-3)


def test_far_tail_log_probabilities_stay_finite():
    dist = ClippedGaussian(np.array([-1.0], np.float32), np.array([1.0], np.float32), initial_std=0.05, min_std=0.0)
    params = np.array([[0.0, 0.0]], np.float32)  # the bound is 20 standard deviations away
    log_prob = dist.log_prob(params, np.array([[1.0]], np.float32)).numpy()[0]
    assert log_prob == pytest.approx(-203.917, rel=1e-4)  # log Phi(-20)
    params = tf.Variable(params)
    with tf.GradientTape() as tape:
        value = dist.log_prob(params, np.array([[1.0]], np.float32))
    assert np.all(np.isfinite(tape.gradient(value, params).numpy()))


def test_bounded_gaussians_refuse_infinite_bounds():
    with pytest.raises(ValueError, match="finite"):
        ClippedGaussian(np.array([-np.inf]), np.array([1.0]))
    with pytest.raises(ValueError, match="initial_std"):
        Gaussian(2, initial_std=0.1, min_std=0.2)
