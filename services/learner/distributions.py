"""Parametric action distributions: a policy head's raw outputs -> actions, log-probabilities, entropies.

A network's policy head emits `param_size` raw numbers per state; a distribution interprets them.
Shapes: `params` is [..., P] with any leading dimensions (`[N]` when acting, `[T, B]` when training);
`actions` is [...] int32 for discrete actions and [..., D] float32 for continuous ones; every per-state
result (log-probability, entropy, KL) is [...].

- `Categorical`: discrete actions; params are logits [..., A].
- `Gaussian`: a diagonal Gaussian over unbounded actions; params are [..., 2D] (means, then raw scales).
- `TanhGaussian`: a Gaussian sample squashed into [low, high] by tanh, with the change-of-variables
  correction of its log-density.
- `ClippedGaussian`: a Gaussian sample clipped into [low, high]; an action on a bound has the
  probability mass of the tail beyond it (Fujita & Maeda, "Clipped Action Policy Gradient", 2018).

Standard deviations are `softplus(raw + b) + min_std`, with `b` chosen so that a raw output of 0 gives
`initial_std` (Andrychowicz et al., "What Matters In On-Policy Reinforcement Learning?", 2020).
"""

from __future__ import annotations

import abc
import math

import numpy as np
import tensorflow as tf

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


class ActionDistribution(abc.ABC):
    """How the raw outputs of a policy head define a distribution over actions."""

    @property
    @abc.abstractmethod
    def param_size(self) -> int:
        """P: raw policy outputs per state."""

    @property
    @abc.abstractmethod
    def action_shape(self) -> tuple[int, ...]:
        """Shape of one action: () for discrete actions, (D,) for continuous ones."""

    @abc.abstractmethod
    def sample(self, params: tf.Tensor) -> tf.Tensor:
        """params [..., P] -> actions [..., *action_shape], sampled."""

    @abc.abstractmethod
    def mode(self, params: tf.Tensor) -> tf.Tensor:
        """params [..., P] -> the most likely actions [..., *action_shape] (greedy actions)."""

    @abc.abstractmethod
    def log_prob(self, params: tf.Tensor, actions: tf.Tensor) -> tf.Tensor:
        """params [..., P], actions [..., *action_shape] -> log pi(a|s) [...]."""

    @abc.abstractmethod
    def entropy(self, params: tf.Tensor) -> tf.Tensor:
        """params [..., P] -> entropy [...]."""

    def kl(self, params_p: tf.Tensor, params_q: tf.Tensor) -> tf.Tensor:
        """KL(p || q) [...] of two parameter tensors [..., P]."""
        return tf.add_n(list(self.kl_components(params_p, params_q)))

    @abc.abstractmethod
    def kl_components(self, params_p: tf.Tensor, params_q: tf.Tensor) -> tuple[tf.Tensor, ...]:
        """KL(p || q) split into parts that can be constrained separately, each [...].

        One part for a categorical; for Gaussians the KL of the means (scales held at p's) and the KL
        of the scales (means held at p's), as V-MPO's decoupled trust region uses them.
        """


class Categorical(ActionDistribution):
    """A softmax distribution over `num_actions` actions; params are logits [..., A]."""

    def __init__(self, num_actions: int):
        self._num_actions = num_actions

    @property
    def param_size(self) -> int:
        return self._num_actions

    @property
    def action_shape(self) -> tuple[int, ...]:
        return ()

    def sample(self, params: tf.Tensor) -> tf.Tensor:
        flat = tf.reshape(params, [-1, self._num_actions])
        actions = tf.random.categorical(flat, 1, dtype=tf.int32)[:, 0]
        return tf.reshape(actions, tf.shape(params)[:-1])

    def mode(self, params: tf.Tensor) -> tf.Tensor:
        return tf.argmax(params, axis=-1, output_type=tf.int32)

    def log_prob(self, params: tf.Tensor, actions: tf.Tensor) -> tf.Tensor:
        return -tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.cast(actions, tf.int32), logits=params)

    def entropy(self, params: tf.Tensor) -> tf.Tensor:
        log_p = tf.nn.log_softmax(params)
        return -tf.reduce_sum(tf.exp(log_p) * log_p, axis=-1)

    def kl_components(self, params_p: tf.Tensor, params_q: tf.Tensor) -> tuple[tf.Tensor, ...]:
        log_p, log_q = tf.nn.log_softmax(params_p), tf.nn.log_softmax(params_q)
        return (tf.reduce_sum(tf.exp(log_p) * (log_p - log_q), axis=-1),)


class Gaussian(ActionDistribution):
    """A diagonal Gaussian over actions [..., D]; params are means [..., :D] and raw scales [..., D:]."""

    def __init__(self, size: int, initial_std: float = 1.0, min_std: float = 1e-3):
        if not initial_std > min_std >= 0:
            raise ValueError(f"initial_std ({initial_std}) must exceed min_std ({min_std}) >= 0")
        self._size = size
        self._min_std = min_std
        # softplus(b) + min_std = initial_std.
        self._std_bias = float(np.log(np.expm1(initial_std - min_std)))

    @property
    def param_size(self) -> int:
        return 2 * self._size

    @property
    def action_shape(self) -> tuple[int, ...]:
        return (self._size,)

    def mean_and_std(self, params: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """params [..., 2D] -> (mean, std), each [..., D]."""
        mean, raw_std = tf.split(params, 2, axis=-1)
        return mean, tf.nn.softplus(raw_std + self._std_bias) + self._min_std

    def sample(self, params: tf.Tensor) -> tf.Tensor:
        mean, std = self.mean_and_std(params)
        return mean + std * tf.random.normal(tf.shape(mean))

    def mode(self, params: tf.Tensor) -> tf.Tensor:
        return self.mean_and_std(params)[0]

    def log_prob(self, params: tf.Tensor, actions: tf.Tensor) -> tf.Tensor:
        mean, std = self.mean_and_std(params)
        return tf.reduce_sum(_normal_log_density(tf.cast(actions, mean.dtype), mean, std), axis=-1)

    def entropy(self, params: tf.Tensor) -> tf.Tensor:
        _, std = self.mean_and_std(params)
        return tf.reduce_sum(0.5 + _LOG_SQRT_2PI + tf.math.log(std), axis=-1)

    def kl_components(self, params_p: tf.Tensor, params_q: tf.Tensor) -> tuple[tf.Tensor, ...]:
        mean_p, std_p = self.mean_and_std(params_p)
        mean_q, std_q = self.mean_and_std(params_q)
        kl_mean = tf.reduce_sum(tf.square(mean_p - mean_q) / (2.0 * tf.square(std_p)), axis=-1)
        variance_ratio = tf.square(std_p / std_q)
        kl_std = tf.reduce_sum(0.5 * (variance_ratio - 1.0 - tf.math.log(variance_ratio)), axis=-1)
        # kl_mean uses p's scale, so kl_mean + kl_std is KL(p || q) exactly when the scales are equal;
        # `kl` below is the exact divergence in every case.
        return kl_mean, kl_std

    def kl(self, params_p: tf.Tensor, params_q: tf.Tensor) -> tf.Tensor:
        mean_p, std_p = self.mean_and_std(params_p)
        mean_q, std_q = self.mean_and_std(params_q)
        terms = tf.math.log(std_q / std_p) + (tf.square(std_p) + tf.square(mean_p - mean_q)) / (2.0 * tf.square(std_q))
        return tf.reduce_sum(terms - 0.5, axis=-1)


class _BoundedGaussian(Gaussian):
    """A Gaussian mapped into the box [low, high] (finite, shape (D,))."""

    def __init__(self, low: np.ndarray, high: np.ndarray, initial_std: float = 1.0, min_std: float = 1e-3):
        low, high = np.asarray(low, np.float32).reshape(-1), np.asarray(high, np.float32).reshape(-1)
        if low.shape != high.shape or not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
            raise ValueError(f"{type(self).__name__} needs finite action bounds, got low={low} high={high}")
        if np.any(high <= low):
            raise ValueError(f"{type(self).__name__} needs high > low, got low={low} high={high}")
        super().__init__(len(low), initial_std, min_std)
        self._low, self._high = tf.constant(low), tf.constant(high)


class TanhGaussian(_BoundedGaussian):
    """actions = center + half_width * tanh(u), u ~ N(mean, std): inside [low, high] (on a bound only
    where float32's tanh rounds to +-1, for |u| > 9; such actions are read as 1e-6 inside it).

    log pi(a) = log N(u) - sum_d log(half_width_d * (1 - tanh(u_d)^2)), u = atanh((a - center) / half_width).
    `log_prob` has only the action, so it must recover u through atanh, which float32 resolves only up
    to |u| ~ 7.25 (1 - 1e-6 inside a bound): past it the value and its gradient are wrong. Where the
    sample is drawn in the same computation, `sample_with_log_prob` keeps u and is exact at any |u|.
    The KL of two such distributions is the KL of their Gaussians (the squashing is a bijection);
    the entropy is estimated from one reparameterised sample per state.
    """

    _EDGE = 1e-6  # a stored action is pulled this far inside the bounds before atanh

    def __init__(self, low: np.ndarray, high: np.ndarray, initial_std: float = 1.0, min_std: float = 1e-3):
        super().__init__(low, high, initial_std, min_std)
        self._center = (self._high + self._low) / 2.0
        self._half_width = (self._high - self._low) / 2.0

    def _squash(self, u: tf.Tensor) -> tf.Tensor:
        return self._center + self._half_width * tf.tanh(u)

    def _log_jacobian(self, u: tf.Tensor) -> tf.Tensor:
        """sum_d log |d a_d / d u_d| [...]; log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u))."""
        log_dtanh = 2.0 * (math.log(2.0) - u - tf.nn.softplus(-2.0 * u))
        return tf.reduce_sum(log_dtanh + tf.math.log(self._half_width), axis=-1)

    def sample(self, params: tf.Tensor) -> tf.Tensor:
        return self._squash(super().sample(params))

    def sample_with_log_prob(self, params: tf.Tensor, noise: tf.Tensor | None = None) -> tuple[tf.Tensor, tf.Tensor]:
        """A reparameterised sample and its log-probability, computed from the pre-squash value.

        With u = mean + std * noise (noise [..., D] standard normal, drawn here when None), returns the
        actions center + half_width tanh(u) [..., D] and
        log pi [...] = sum_d (log N(noise_d) - log std_d - log half_width_d - log(1 - tanh(u_d)^2)),
        where log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)) has no cancellation at any |u|. Its
        gradients flow to params through u (d log pi / d mean_d = 2 tanh(u_d)).
        """
        mean, std = self.mean_and_std(params)
        if noise is None:
            noise = tf.random.normal(tf.shape(mean))
        u = mean + std * noise
        log_density = tf.reduce_sum(-0.5 * tf.square(noise) - tf.math.log(std) - _LOG_SQRT_2PI, axis=-1)
        return self._squash(u), log_density - self._log_jacobian(u)

    def mode(self, params: tf.Tensor) -> tf.Tensor:
        return self._squash(self.mean_and_std(params)[0])

    def log_prob(self, params: tf.Tensor, actions: tf.Tensor) -> tf.Tensor:
        unit = (tf.cast(actions, tf.float32) - self._center) / self._half_width
        unit = tf.clip_by_value(unit, -1.0 + self._EDGE, 1.0 - self._EDGE)
        u = tf.math.atanh(unit)
        return super().log_prob(params, u) - self._log_jacobian(u)

    def entropy(self, params: tf.Tensor) -> tf.Tensor:
        return super().entropy(params) + self._log_jacobian(Gaussian.sample(self, params))


class ClippedGaussian(_BoundedGaussian):
    """actions = clip(u, low, high), u ~ N(mean, std).

    An action strictly inside the box has the Gaussian density; one on a bound has the probability
    of the tail beyond it, Phi((low - mean) / std) or Phi((mean - high) / std), so that importance
    ratios of clipped actions are exact. Entropy and KL are those of the Gaussian before clipping
    (the KL is an upper bound of the clipped distributions' KL).
    """

    def sample(self, params: tf.Tensor) -> tf.Tensor:
        return tf.clip_by_value(super().sample(params), self._low, self._high)

    def mode(self, params: tf.Tensor) -> tf.Tensor:
        return tf.clip_by_value(self.mean_and_std(params)[0], self._low, self._high)

    def log_prob(self, params: tf.Tensor, actions: tf.Tensor) -> tf.Tensor:
        mean, std = self.mean_and_std(params)
        actions = tf.cast(actions, mean.dtype)
        density = _normal_log_density(actions, mean, std)
        below = _log_ndtr((self._low - mean) / std)
        above = _log_ndtr((mean - self._high) / std)
        per_dimension = tf.where(actions <= self._low, below, tf.where(actions >= self._high, above, density))
        return tf.reduce_sum(per_dimension, axis=-1)


def _normal_log_density(x: tf.Tensor, mean: tf.Tensor, std: tf.Tensor) -> tf.Tensor:
    return -0.5 * tf.square((x - mean) / std) - tf.math.log(std) - _LOG_SQRT_2PI


def _log_ndtr(x: tf.Tensor) -> tf.Tensor:
    """log Phi(x), the log of the standard normal CDF, finite far into the lower tail.

    Above -8, log(erfc(-x / sqrt 2) / 2); below, the asymptotic series
    log phi(x) - log(-x) + log(1 - 1/x^2 + 3/x^4 - 15/x^6) (relative error < 1e-5 there).
    """
    threshold = -8.0
    direct = tf.math.log(0.5 * tf.math.erfc(-tf.maximum(x, threshold) / math.sqrt(2.0)))
    z = tf.minimum(x, threshold)
    inv2 = 1.0 / tf.square(z)
    series = -0.5 * tf.square(z) - _LOG_SQRT_2PI - tf.math.log(-z) + tf.math.log(1.0 - inv2 + 3.0 * inv2**2 - 15.0 * inv2**3)
    return tf.where(x > threshold, direct, series)
