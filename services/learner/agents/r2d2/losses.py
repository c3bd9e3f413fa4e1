"""R2D2's targets and priorities as pure TensorFlow functions.

All tensors are time-major `[T, B]` (`[T, B, A]` for Q-values). In the transition from
step t-1 to step t, `q_tm1` is the Q-value of the action taken at t-1, and `r_t`,
`discount_t` the reward and discount of arriving at t.

Reference: Kapturowski et al., "Recurrent Experience Replay in Distributed
Reinforcement Learning", ICLR 2019, https://openreview.net/forum?id=r1lyTjAqYX;
value rescaling from Pohlen et al., "Observe and Look Further", 2018,
https://arxiv.org/abs/1805.11593.
"""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf


def value_rescale(x: tf.Tensor, eps: float = 1e-3) -> tf.Tensor:
    """h(x) = sign(x) (sqrt(|x| + 1) - 1) + eps x: squashes returns into the range a network fits well.

    Computed as sign(x) |x| / (sqrt(|x| + 1) + 1) + eps x, the same value without the cancellation of
    sqrt(|x| + 1) - 1 for small |x| (in float32, 1 + 1e-6 keeps one significant digit of 1e-6).
    """
    magnitude = tf.abs(x)
    return tf.sign(x) * magnitude / (tf.sqrt(magnitude + 1.0) + 1.0) + eps * x


def inverse_value_rescale(x: tf.Tensor, eps: float = 1e-3) -> tf.Tensor:
    """h^-1(x) = sign(x) (((sqrt(1 + 4 eps (|x| + 1 + eps)) - 1) / (2 eps))^2 - 1), the inverse of `value_rescale`.

    Pohlen et al.'s closed form subtracts nearly equal numbers twice (the root is close to 1 and divided
    by a small 2 eps). With s = sqrt((1 + 2 eps)^2 + 4 eps |x|) and d = (s - 1) / (2 eps) - 1, multiplying
    by the conjugates gives d = 2 |x| / (1 + 2 eps + s), and h^-1(x) = sign(x) d (d + 2): only sums of
    positive numbers, accurate to a few float32 ulps from |x| = 1e-6 to 1e6.
    """
    magnitude = tf.abs(x)
    root = tf.sqrt((1.0 + 2.0 * eps) ** 2 + 4.0 * eps * magnitude)
    d = 2.0 * magnitude / (1.0 + 2.0 * eps + root)
    return tf.sign(x) * d * (d + 2.0)


def n_step_double_q_targets(
    q_target_t: tf.Tensor,
    q_selector_t: tf.Tensor,
    r_t: tf.Tensor,
    discount_t: tf.Tensor,
    *,
    n: int,
    rescale_eps: float | None = 1e-3,
) -> tf.Tensor:
    """n-step double Q-learning targets for the T transitions of an unroll, cut at its end.

    With k_s = min(n, T - s) steps left in the unroll after transition s:

        G_s = sum_{k < k_s} (prod_{j < k} gamma_{s+j}) r_{s+k}
              + (prod_{j < k_s} gamma_{s+j}) Q_target(x_{s+k_s}, argmax_a Q_selector(x_{s+k_s}, a))

    Q-values live in the rescaled space: the bootstrap is mapped back with h^-1 and the
    target is h(G_s) (no rescaling when `rescale_eps` is None). A discount of 0 (an
    episode's end) cuts both the rewards and the bootstrap that follow it.

    Args:
      q_target_t: [T, B, A] target-network Q-values of steps 1..T.
      q_selector_t: [T, B, A] online-network Q-values of steps 1..T (choose the bootstrap action).
      r_t: [T, B] rewards of transitions 0..T-1.
      discount_t: [T, B] discounts of those transitions (0 where the episode ended).
      n: steps of the return.
      rescale_eps: eps of the value rescaling h, or None for raw values.

    Returns:
      [T, B] targets for Q(x_s, a_s), s in [0, T), with gradients stopped.
    """
    tf.debugging.assert_rank(q_target_t, 3)
    tf.debugging.assert_equal(tf.shape(q_target_t), tf.shape(q_selector_t))
    tf.debugging.assert_equal(tf.shape(r_t), tf.shape(q_target_t)[:2])
    tf.debugging.assert_equal(tf.shape(discount_t), tf.shape(r_t))
    num_actions = tf.shape(q_target_t)[-1]
    best = tf.argmax(q_selector_t, axis=-1, output_type=tf.int32)
    bootstrap_t = tf.reduce_sum(q_target_t * tf.one_hot(best, num_actions, dtype=q_target_t.dtype), axis=-1)
    if rescale_eps is not None:
        bootstrap_t = inverse_value_rescale(bootstrap_t, rescale_eps)

    length = tf.shape(r_t)[0]
    s = tf.range(length)
    # Bootstrap from step min(s + n, T), i.e. row min(s + n, T) - 1 of the [1, T] values.
    returns = tf.gather(bootstrap_t, tf.minimum(s + n, length) - 1)
    for k in reversed(range(n)):
        inside = (s + k < length)[:, None]
        index = tf.minimum(s + k, length - 1)
        returns = tf.where(inside, tf.gather(r_t, index) + tf.gather(discount_t, index) * returns, returns)
    if rescale_eps is not None:
        returns = value_rescale(returns, rescale_eps)
    return tf.stop_gradient(returns)


def sequence_priorities(td_errors: tf.Tensor, eta: float = 0.9) -> tf.Tensor:
    """R2D2's priority of each unroll: eta max_t |delta_t| + (1 - eta) mean_t |delta_t|.

    Args:
      td_errors: [T, B].

    Returns:
      [B] priorities.
    """
    magnitude = tf.abs(td_errors)
    return eta * tf.reduce_max(magnitude, axis=0) + (1.0 - eta) * tf.reduce_mean(magnitude, axis=0)


class R2D2LossOutput(NamedTuple):
    """The loss (scalar), TD errors [T, B] and priorities [B]."""

    loss: tf.Tensor
    td_errors: tf.Tensor
    priorities: tf.Tensor


def r2d2_loss(
    q_tm1: tf.Tensor,
    a_tm1: tf.Tensor,
    q_target_t: tf.Tensor,
    q_selector_t: tf.Tensor,
    r_t: tf.Tensor,
    discount_t: tf.Tensor,
    weights: tf.Tensor,
    *,
    n: int,
    rescale_eps: float | None = 1e-3,
    priority_eta: float = 0.9,
) -> R2D2LossOutput:
    """Importance-weighted squared n-step double-Q TD error over the T transitions of B unrolls.

        loss = mean_{t, b} w_b 0.5 (G_t - Q(x_t, a_t))^2

    Args:
      q_tm1: [T, B, A] online Q-values of steps 0..T-1.
      a_tm1: [T, B] int actions taken at those steps.
      q_target_t, q_selector_t, r_t, discount_t: as for `n_step_double_q_targets`.
      weights: [B] importance-sampling weights; the replay divides them by the batch's largest, as
        Ape-X does.
    """
    targets = n_step_double_q_targets(
        q_target_t, q_selector_t, r_t, discount_t, n=n, rescale_eps=rescale_eps
    )
    q_taken = tf.reduce_sum(q_tm1 * tf.one_hot(tf.cast(a_tm1, tf.int32), tf.shape(q_tm1)[-1], dtype=q_tm1.dtype), axis=-1)
    td_errors = targets - q_taken
    loss = tf.reduce_mean(weights[None, :] * 0.5 * tf.square(td_errors))
    return R2D2LossOutput(loss, td_errors, sequence_priorities(td_errors, priority_eta))

