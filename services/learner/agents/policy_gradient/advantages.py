"""Advantage estimators: value targets and advantages of the T transitions of an unroll.

All tensors are time-major `[T, B]` and follow `vtrace/losses.py`'s naming: in the transition from
step t-1 to step t, `v_tm1` is V(x_{t-1}), `v_t` is V(x_t), and `r_t`, `discount_t` the reward and
discount of arriving at t (`discount_t` is 0 where the episode terminated; a truncated episode's
bootstrap value is already in `r_t`, see `transition_rewards_and_discounts`). Every estimator returns
its outputs with gradients stopped.
"""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf

from seedrl.learner.agents.vtrace.losses import vtrace


class Advantages(NamedTuple):
    """Attributes:
      targets: [T, B] value targets for V(x_s).
      advantages: [T, B] advantage estimates of the actions taken, A(x_s, a_s).
    """

    targets: tf.Tensor
    advantages: tf.Tensor


def _check_shapes(*tensors: tf.Tensor) -> None:
    tf.debugging.assert_rank(tensors[0], 2)
    for other in tensors[1:]:
        tf.debugging.assert_equal(tf.shape(other), tf.shape(tensors[0]))


def gae(v_tm1: tf.Tensor, v_t: tf.Tensor, r_t: tf.Tensor, discount_t: tf.Tensor, *, lambda_: float) -> Advantages:
    """Generalised advantage estimation (Schulman et al. 2016, https://arxiv.org/abs/1506.02438).

        delta_s = r_s + gamma_s V(x_{s+1}) - V(x_s)
        A_s = delta_s + gamma_s lambda A_{s+1},   A_T = 0
        target_s = A_s + V(x_s)   (the TD(lambda) return)

    lambda = 0 gives the one-step TD error; lambda = 1 the Monte Carlo return minus V(x_s), bootstrapped
    from V(x_T) at the unroll's end.

    Args:
      v_tm1, v_t, r_t, discount_t: [T, B].
      lambda_: in [0, 1].
    """
    _check_shapes(v_tm1, v_t, r_t, discount_t)
    deltas = r_t + discount_t * v_t - v_tm1

    def backward(advantage_tp1, inputs):
        delta, discount = inputs
        return delta + discount * lambda_ * advantage_tp1

    advantages = tf.scan(backward, (deltas, discount_t), initializer=tf.zeros_like(v_tm1[0]), reverse=True)
    return Advantages(tf.stop_gradient(advantages + v_tm1), tf.stop_gradient(advantages))


def n_step(v_tm1: tf.Tensor, v_t: tf.Tensor, r_t: tf.Tensor, discount_t: tf.Tensor, *, n: int) -> Advantages:
    """n-step bootstrapped returns (Sutton & Barto, ch. 7).

        G_s = r_s + gamma_s r_{s+1} + ... + (gamma_s ... gamma_{s+n-2}) r_{s+n-1}
              + (gamma_s ... gamma_{s+n-1}) V(x_{s+n})
        A_s = G_s - V(x_s)

    Near the unroll's end the sum stops at transition T-1 and bootstraps from V(x_T) (as with fewer
    steps); a terminated episode (gamma = 0) cuts it.

    Args:
      v_tm1, v_t, r_t, discount_t: [T, B].
      n: steps before bootstrapping, >= 1.
    """
    _check_shapes(v_tm1, v_t, r_t, discount_t)
    length = tf.shape(r_t)[0]
    # Bootstrap value of each s: V(x_{min(s+n, T)}), i.e. v_t at index min(s+n, T) - 1.
    returns = tf.gather(v_t, tf.minimum(tf.range(length) + n, length) - 1)
    # Past the end, a reward of 0 and a discount of 1 carry the bootstrap value through unchanged.
    padding = tf.zeros_like(r_t[:1])
    r_padded = tf.concat([r_t] + [padding] * (n - 1), axis=0)
    discount_padded = tf.concat([discount_t] + [padding + 1.0] * (n - 1), axis=0)
    for k in reversed(range(n)):
        returns = r_padded[k : k + length] + discount_padded[k : k + length] * returns
    return Advantages(tf.stop_gradient(returns), tf.stop_gradient(returns - v_tm1))


def vtrace_advantages(
    v_tm1: tf.Tensor,
    v_t: tf.Tensor,
    r_t: tf.Tensor,
    discount_t: tf.Tensor,
    rho_tm1: tf.Tensor,
    *,
    lambda_: float,
    clip_rho_threshold: float,
) -> Advantages:
    """V-trace targets v_s and advantages r_s + gamma_s v_{s+1} - V(x_s) (IMPALA, section 4.2).

    The advantages are not weighted by importance ratios: the `vtrace` policy loss does that, so
    any policy loss can use these targets. On-policy (rho = 1) the targets are TD(lambda) returns
    and equal `gae`'s.

    Args:
      v_tm1, v_t, r_t, discount_t: [T, B].
      rho_tm1: [T, B] importance ratios pi(a_s|x_s) / mu(a_s|x_s) of the current and behaviour policies.
    """
    out = vtrace(
        v_tm1, v_t, r_t, discount_t, tf.stop_gradient(rho_tm1),
        lambda_=lambda_, clip_rho_threshold=clip_rho_threshold,
    )
    return Advantages(out.vs, out.q_estimate - tf.stop_gradient(v_tm1))
