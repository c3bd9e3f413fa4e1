"""Soft actor-critic losses as pure TensorFlow functions.

Tensors are `[N]` per transition (N = T x B flattened, or any shape, as long as they
agree). `_tm1` values belong to the state the action was taken in, `_t` values to
the state it led to.

References: Haarnoja et al., "Soft Actor-Critic Algorithms and Applications", 2018,
https://arxiv.org/abs/1812.05905 (twin critics, learned temperature); Fujimoto et al.,
"Addressing Function Approximation Error in Actor-Critic Methods", 2018 (twin minimum).
"""

from __future__ import annotations

from typing import Sequence

import tensorflow as tf


def soft_q_targets(
    r_t: tf.Tensor,
    discount_t: tf.Tensor,
    q1_target_t: tf.Tensor,
    q2_target_t: tf.Tensor,
    log_pi_t: tf.Tensor,
    alpha: tf.Tensor,
) -> tf.Tensor:
    """y = r_t + gamma_t (min(Q1'(x_t, a'), Q2'(x_t, a')) - alpha log pi(a'|x_t)), a' ~ pi(.|x_t).

    Args:
      r_t, discount_t: [N] rewards and discounts of the transitions (discount 0 at an episode's end).
      q1_target_t, q2_target_t: [N] target critics at the next state and a fresh policy action a'.
      log_pi_t: [N] log pi(a'|x_t).
      alpha: scalar temperature.

    Returns:
      [N] targets, gradients stopped.
    """
    soft_value = tf.minimum(q1_target_t, q2_target_t) - alpha * log_pi_t
    return tf.stop_gradient(r_t + discount_t * soft_value)


def critic_loss(q1_tm1: tf.Tensor, q2_tm1: tf.Tensor, targets: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
    """Weighted squared errors of both critics: mean w 0.5 ((Q1 - y)^2 + (Q2 - y)^2); all [N]."""
    return tf.reduce_mean(weights * 0.5 * (tf.square(q1_tm1 - targets) + tf.square(q2_tm1 - targets)))


def actor_loss(q1: tf.Tensor, q2: tf.Tensor, log_pi: tf.Tensor, alpha: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
    """mean w (alpha log pi(a|x) - min(Q1, Q2)(x, a)), a ~ pi(.|x) reparameterised; all [N], alpha fixed."""
    return tf.reduce_mean(weights * (tf.stop_gradient(alpha) * log_pi - tf.minimum(q1, q2)))


def temperature_loss(log_alpha: tf.Tensor, log_pi: tf.Tensor, target_entropy: float) -> tf.Tensor:
    """-mean(log alpha (log pi + H_target)): alpha grows while the entropy -log pi is below the target."""
    return -tf.reduce_mean(log_alpha * tf.stop_gradient(log_pi + target_entropy))


def polyak_update(target: Sequence[tf.Variable], online: Sequence[tf.Variable], tau: float) -> None:
    """target <- (1 - tau) target + tau online, variable by variable (tau = 1 copies)."""
    for target_variable, online_variable in zip(target, online, strict=True):
        target_variable.assign((1.0 - tau) * target_variable + tau * online_variable)
