"""The on-policy objective: the configured policy loss, value loss and regularisers on one minibatch."""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf

from seedrl.learner.agents.policy_gradient import advantages as estimators
from seedrl.learner.agents.policy_gradient import losses
from seedrl.spec.policy_gradient import PolicyGradientConfig
from seedrl.learner.agents.policy_gradient.normalization import RunningStatistics
from seedrl.learner.devices import replicas
from seedrl.learner.distributions import ActionDistribution


class Transitions(NamedTuple):
    """What the objective needs of N = T x B transitions, each [T, B, ...].

    Attributes:
      params: policy parameters [T, B, P] of the policy being trained.
      values: value predictions [T, B] of that network, in the value head's units (normalised when
        value normalisation is on).
      actions: actions taken [T, B, *action_shape].
      behaviour_params: parameters [T, B, P] of the policy that acted.
      behaviour_values: [T, B] its values, in return units.
      targets: value targets [T, B], in return units.
      advantages: [T, B].
    """

    params: tf.Tensor
    values: tf.Tensor
    actions: tf.Tensor
    behaviour_params: tf.Tensor
    behaviour_values: tf.Tensor
    targets: tf.Tensor
    advantages: tf.Tensor


class Multipliers(NamedTuple):
    """V-MPO's Lagrange multipliers: log eta (scalar) and log alpha ([K], one per KL component)."""

    log_temperature: tf.Variable
    log_alphas: tf.Variable


def estimate_advantages(
    config: PolicyGradientConfig,
    values: tf.Tensor,
    r_t: tf.Tensor,
    discount_t: tf.Tensor,
    log_rho: tf.Tensor,
) -> estimators.Advantages:
    """Targets and advantages [T, B] from values [T+1, B] (return units) by the configured estimator.

    Args:
      values: V(x_s) at every step of the unroll, the last one bootstrapping.
      r_t, discount_t: [T, B] from `transition_rewards_and_discounts`.
      log_rho: [T, B] log(pi / mu) of the actions taken (read by the vtrace estimator only).
    """
    v_tm1, v_t = tf.stop_gradient(values[:-1]), tf.stop_gradient(values[1:])
    if config.advantage_estimator == "gae":
        return estimators.gae(v_tm1, v_t, r_t, discount_t, lambda_=config.td_lambda)
    if config.advantage_estimator == "n_step":
        return estimators.n_step(v_tm1, v_t, r_t, discount_t, n=config.n_step)
    return estimators.vtrace_advantages(
        v_tm1, v_t, r_t, discount_t, tf.exp(log_rho),
        lambda_=config.td_lambda, clip_rho_threshold=config.clip_rho_threshold,
    )


def objective(
    config: PolicyGradientConfig,
    distribution: ActionDistribution,
    batch: Transitions,
    value_statistics: RunningStatistics | None,
    multipliers: Multipliers | None,
) -> losses.LossOutput:
    """Total loss of a minibatch and its parts: `loss/...` terms and diagnostics, all scalars.

        loss = policy + baseline_cost * value - entropy_cost * entropy + kl_cost * KL(mu || pi)
               (+ V-MPO's temperature and trust-region losses)
    """
    log_pi = distribution.log_prob(batch.params, batch.actions)
    log_mu = distribution.log_prob(batch.behaviour_params, batch.actions)
    advantages = batch.advantages
    # Standardised advantages (the ppo and awr presets) depart on purpose from both papers, whose
    # objectives use raw advantages: awr_beta then counts standard deviations, not return units.
    if config.normalize_advantages:
        mean, variance = replicas.moments(advantages)  # over the whole minibatch, every replica's shard
        advantages = (advantages - mean) / (tf.sqrt(variance) + 1e-8)

    extra: dict[str, tf.Tensor] = {}
    if config.policy_loss == "vpg":
        policy = losses.vpg_loss(log_pi, advantages)
    elif config.policy_loss == "ppo":
        policy = losses.ppo_loss(log_pi, log_mu, advantages, epsilon=config.ppo_epsilon)
    elif config.policy_loss == "vtrace":
        policy = losses.vtrace_policy_loss(
            log_pi, log_mu, advantages, max_importance_weight=config.clip_pg_rho_threshold
        )
    elif config.policy_loss == "awr":
        policy = losses.awr_loss(log_pi, advantages, beta=config.awr_beta, max_weight=config.awr_max_weight)
    else:
        policy = losses.vmpo_loss(
            log_pi, advantages, multipliers.log_temperature,
            epsilon_temperature=config.vmpo_epsilon_temperature, top_fraction=config.vmpo_top_fraction,
        )
        epsilons = (config.vmpo_epsilon_kl, config.vmpo_epsilon_kl_std)
        trust_region = losses.trust_region_loss(
            distribution.kl_components(batch.behaviour_params, batch.params), multipliers.log_alphas, epsilons
        )
        extra["loss/trust_region"] = trust_region.loss
        extra.update(trust_region.metrics)

    targets, old_values = batch.targets, batch.behaviour_values
    if value_statistics is not None:
        targets, old_values = value_statistics.normalize(targets), value_statistics.normalize(old_values)
    value = losses.value_loss(
        batch.values, targets, kind=config.value_loss, huber_delta=config.huber_delta,
        old_values=old_values, clip=config.value_clipping,
    )
    entropy = tf.reduce_mean(distribution.entropy(batch.params))
    kl = tf.reduce_mean(distribution.kl(batch.behaviour_params, batch.params))
    if config.kl_cost > 0:
        extra["loss/kl"] = config.kl_cost * kl
    total = policy.loss + config.baseline_cost * value.loss - config.entropy_cost * entropy
    total += extra.get("loss/kl", 0.0) + extra.get("loss/trust_region", 0.0)
    return losses.LossOutput(total, {
        "loss/total": total,
        "loss/policy": policy.loss,
        "loss/baseline": config.baseline_cost * value.loss,
        "loss/entropy": -config.entropy_cost * entropy,
        **extra,
        **policy.metrics,
        "entropy": entropy,
        "kl_behaviour_to_current": kl,
    })
