"""V-trace targets and the IMPALA loss as pure TensorFlow functions.

All tensors are time-major: `[T, B]` (or `[T, B, A]` for logits). Names carry the
time step they belong to: in the transition from step t-1 to step t, `v_tm1` is the
value of step t-1, and `r_t`, `discount_t` the reward and discount of arriving at t.

Reference: Espeholt et al., "IMPALA: Scalable Distributed Deep-RL with Importance
Weighted Actor-Learner Architectures", ICML 2018, https://arxiv.org/abs/1802.01561.
"""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf


class VTraceOutput(NamedTuple):
    """V-trace targets.

    Attributes:
      vs: [T, B] v-trace value targets v_s for V(x_s), s in [0, T).
      pg_advantage: [T, B] clipped-importance-weighted advantages
        rho~_s (r_s + gamma_s v_{s+1} - V(x_s)) for the policy gradient.
      errors: [T, B] vs - V(x_s).
      q_estimate: [T, B] r_s + gamma_s v_{s+1}, the unweighted action-value estimate.
    """

    vs: tf.Tensor
    pg_advantage: tf.Tensor
    errors: tf.Tensor
    q_estimate: tf.Tensor


def vtrace(
    v_tm1: tf.Tensor,
    v_t: tf.Tensor,
    r_t: tf.Tensor,
    discount_t: tf.Tensor,
    rho_tm1: tf.Tensor,
    *,
    lambda_: float = 1.0,
    clip_rho_threshold: float = 1.0,
    clip_pg_rho_threshold: float = 1.0,
    stop_target_gradients: bool = True,
) -> VTraceOutput:
    """V-trace value targets and policy-gradient advantages (IMPALA, section 4.1).

    With rho-bar_s = min(clip_rho, rho_s) and c_s = lambda * min(1, rho_s):

        delta_s = rho-bar_s (r_s + gamma_s V(x_{s+1}) - V(x_s))
        v_s - V(x_s) = delta_s + gamma_s c_s (v_{s+1} - V(x_{s+1})),   v_T = V(x_T)

    Args:
      v_tm1: [T, B] values V(x_s) of the states the actions were taken in.
      v_t: [T, B] values V(x_{s+1}) of the states they led to (v_t[-1] bootstraps).
      r_t: [T, B] rewards r_s of those transitions.
      discount_t: [T, B] gamma_s; 0 where the episode ended in the transition.
      rho_tm1: [T, B] importance ratios pi(a_s|x_s) / mu(a_s|x_s).
      lambda_: trace cutting factor in [0, 1].
      clip_rho_threshold: rho-bar, clips the ratios in delta_s.
      clip_pg_rho_threshold: clips the ratios weighting the policy-gradient advantage.
      stop_target_gradients: return targets with gradients stopped.

    Returns:
      VTraceOutput of [T, B] tensors.
    """
    tf.debugging.assert_rank(v_tm1, 2)
    for other in (v_t, r_t, discount_t, rho_tm1):
        tf.debugging.assert_equal(tf.shape(other), tf.shape(v_tm1))

    clipped_rhos = tf.minimum(clip_rho_threshold, rho_tm1)
    cs = lambda_ * tf.minimum(1.0, rho_tm1)
    deltas = clipped_rhos * (r_t + discount_t * v_t - v_tm1)

    def backward(acc_tp1, inputs):
        delta, discount, c = inputs
        return delta + discount * c * acc_tp1

    # acc_s = v_s - V(x_s), accumulated from the end of the unroll.
    errors = tf.scan(
        backward, (deltas, discount_t, cs), initializer=tf.zeros_like(v_tm1[0]), reverse=True
    )
    vs = v_tm1 + errors
    vs_t = tf.concat([vs[1:], v_t[-1:]], axis=0)
    q_estimate = r_t + discount_t * vs_t
    pg_advantage = tf.minimum(clip_pg_rho_threshold, rho_tm1) * (q_estimate - v_tm1)
    if stop_target_gradients:
        vs, pg_advantage, q_estimate = (tf.stop_gradient(x) for x in (vs, pg_advantage, q_estimate))
    return VTraceOutput(vs=vs, pg_advantage=pg_advantage, errors=vs - v_tm1, q_estimate=q_estimate)


def transition_rewards_and_discounts(
    reward: tf.Tensor,
    terminated: tf.Tensor,
    truncated: tf.Tensor,
    truncation_value: tf.Tensor,
    discount: float,
) -> tuple[tf.Tensor, tf.Tensor]:
    """Rewards r_t and discounts gamma_t of the T transitions of an unroll of T+1 steps.

    Step t of an unroll holds what arrived with observation t: the reward of the
    previous action and whether the episode ended on it. Where an episode ended the
    observation is already the next episode's first, so the transition's discount is 0;
    a *truncated* episode is bootstrapped instead from V(final observation), which the
    learner computed while acting (`truncation_value`): r_t + gamma V(x_final).

    This departs from the papers on purpose: the final observation is not stored, so its value
    comes from the acting network when the episode ended (no off-policy correction, no target
    network), not from the network being trained (or R2D2's and SAC's target networks).

    Args:
      reward: [T+1, B] float32.
      terminated, truncated: [T+1, B] bool.
      truncation_value: [T+1, B] float32, V(final observation) where truncated, else 0.
      discount: gamma.

    Returns:
      (r_t, discount_t), each [T, B] for transitions 0..T-1.
    """
    ended = tf.cast(tf.logical_or(terminated[1:], truncated[1:]), tf.float32)
    bootstrap = discount * tf.cast(truncated[1:], tf.float32) * truncation_value[1:]
    return reward[1:] + bootstrap, discount * (1.0 - ended)


class ImpalaLossOutput(NamedTuple):
    """Total loss and its parts (scalars)."""

    loss: tf.Tensor
    policy_loss: tf.Tensor
    baseline_loss: tf.Tensor
    entropy_loss: tf.Tensor
    mean_rho: tf.Tensor


def impala_loss(
    logits: tf.Tensor,
    values: tf.Tensor,
    actions: tf.Tensor,
    behaviour_logits: tf.Tensor,
    r_t: tf.Tensor,
    discount_t: tf.Tensor,
    *,
    baseline_cost: float,
    entropy_cost: float,
    lambda_: float = 1.0,
    clip_rho_threshold: float = 1.0,
    clip_pg_rho_threshold: float = 1.0,
) -> ImpalaLossOutput:
    """The IMPALA loss for a discrete policy over an unroll of T+1 steps.

        loss = -mean(A_s log pi(a_s|x_s)) + baseline_cost * 0.5 * mean((v_s - V(x_s))^2)
               - entropy_cost * mean(H(pi(.|x_s)))

    Means run over all T x B transitions.

    Args:
      logits: [T+1, B, A] learner policy logits at every step.
      values: [T+1, B] learner values at every step (the last one bootstraps).
      actions: [T+1, B] int actions taken at every step (the last one is unused).
      behaviour_logits: [T+1, B, A] the logits those actions were sampled from.
      r_t, discount_t: [T, B] from `transition_rewards_and_discounts`.
    """
    logits_tm1 = logits[:-1]
    actions_tm1 = tf.cast(actions[:-1], tf.int32)
    log_pi = -tf.nn.sparse_softmax_cross_entropy_with_logits(labels=actions_tm1, logits=logits_tm1)
    log_mu = -tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=actions_tm1, logits=behaviour_logits[:-1]
    )
    rho_tm1 = tf.exp(log_pi - log_mu)
    targets = vtrace(
        values[:-1], values[1:], r_t, discount_t, tf.stop_gradient(rho_tm1),
        lambda_=lambda_, clip_rho_threshold=clip_rho_threshold,
        clip_pg_rho_threshold=clip_pg_rho_threshold,
    )
    policy_loss = -tf.reduce_mean(targets.pg_advantage * log_pi)
    baseline_loss = baseline_cost * 0.5 * tf.reduce_mean(tf.square(targets.vs - values[:-1]))
    probs = tf.nn.softmax(logits_tm1)
    entropy = -tf.reduce_sum(probs * tf.nn.log_softmax(logits_tm1), axis=-1)
    entropy_loss = -entropy_cost * tf.reduce_mean(entropy)
    return ImpalaLossOutput(
        loss=policy_loss + baseline_loss + entropy_loss,
        policy_loss=policy_loss,
        baseline_loss=baseline_loss,
        entropy_loss=entropy_loss,
        mean_rho=tf.reduce_mean(rho_tm1),
    )
