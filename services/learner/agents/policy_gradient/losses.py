"""Policy and value losses of the on-policy agent, as pure TensorFlow functions.

Inputs are per-transition tensors of one shape `[T, B]` (a minibatch of whole unrolls, or `[1, M]` of M
single transitions); every loss is a mean over them. Inside a training replica they are the replica's
equal shard of the minibatch, and the mean of the replicas' losses is the loss of the whole minibatch.
`log_pi` is log pi(a|x) under the policy being trained (gradients flow through it), `log_mu` the
log-probability under the behaviour policy that acted, and `advantages` are estimates from
`advantages.py` (gradients stopped).
"""

from __future__ import annotations

from typing import Literal, NamedTuple, Sequence

import tensorflow as tf

from seedrl.learner.devices import replicas


class LossOutput(NamedTuple):
    """A scalar loss and scalar diagnostics, keyed by name."""

    loss: tf.Tensor
    metrics: dict[str, tf.Tensor]


def vpg_loss(log_pi: tf.Tensor, advantages: tf.Tensor) -> LossOutput:
    """Vanilla policy gradient (REINFORCE with a baseline): -mean(A log pi)."""
    return LossOutput(-tf.reduce_mean(tf.stop_gradient(advantages) * log_pi), {})


def ppo_loss(log_pi: tf.Tensor, log_mu: tf.Tensor, advantages: tf.Tensor, *, epsilon: float) -> LossOutput:
    """PPO's clipped surrogate (Schulman et al. 2017, https://arxiv.org/abs/1707.06347, eq. 7).

        rho = pi / mu;  loss = -mean(min(rho A, clip(rho, 1 - epsilon, 1 + epsilon) A))

    The gradient is zero where the ratio left [1 - epsilon, 1 + epsilon] in the direction the
    advantage pushes it. Metrics: `clip_fraction`, the share of such transitions.
    """
    advantages = tf.stop_gradient(advantages)
    rho = tf.exp(log_pi - tf.stop_gradient(log_mu))
    clipped_rho = tf.clip_by_value(rho, 1.0 - epsilon, 1.0 + epsilon)
    surrogate = tf.minimum(rho * advantages, clipped_rho * advantages)
    clipped = tf.cast(clipped_rho * advantages < rho * advantages, tf.float32)
    return LossOutput(-tf.reduce_mean(surrogate), {"clip_fraction": tf.reduce_mean(clipped)})


def vtrace_policy_loss(
    log_pi: tf.Tensor, log_mu: tf.Tensor, advantages: tf.Tensor, *, max_importance_weight: float
) -> LossOutput:
    """IMPALA's off-policy policy gradient: -mean(min(rho-bar, rho) A log pi), rho = pi / mu held constant."""
    rho = tf.exp(tf.stop_gradient(log_pi - log_mu))
    weights = tf.minimum(max_importance_weight, rho)
    return LossOutput(-tf.reduce_mean(weights * tf.stop_gradient(advantages) * log_pi), {})


def awr_loss(log_pi: tf.Tensor, advantages: tf.Tensor, *, beta: float, max_weight: float) -> LossOutput:
    """Advantage-weighted regression (Peng et al. 2019, https://arxiv.org/abs/1910.00177).

        w = min(exp(A / beta), max_weight);  loss = -mean(w log pi)

    Metrics: `awr_clipped_fraction`, the share of weights capped at `max_weight`.
    """
    log_weights = tf.stop_gradient(advantages) / beta
    capped = log_weights >= tf.math.log(max_weight)
    weights = tf.exp(tf.minimum(log_weights, tf.math.log(max_weight)))
    return LossOutput(
        -tf.reduce_mean(weights * log_pi), {"awr_clipped_fraction": tf.reduce_mean(tf.cast(capped, tf.float32))}
    )


def vmpo_loss(
    log_pi: tf.Tensor,
    advantages: tf.Tensor,
    log_temperature: tf.Tensor,
    *,
    epsilon_temperature: float,
    top_fraction: float = 0.5,
) -> LossOutput:
    """V-MPO's policy and temperature losses (Song et al. 2019, https://arxiv.org/abs/1909.12238, eq. 3-4).

    Over the transitions whose advantages are in the top `top_fraction` (the set D~), with eta =
    exp(log_temperature):

        psi = softmax_{D~}(A / eta)                      (eta held constant)
        L_pi = -sum_{D~} psi log pi
        L_eta = eta epsilon_eta + eta log(mean_{D~} exp(A / eta))   (A held constant)

    Minimising L_eta moves eta so that the KL between psi and the uniform weights over D~ stays
    near epsilon_eta. The KL trust region on the policy is `trust_region_loss`.

    Inside a training replica, D~ and the softmax span the minibatch of every replica
    (`replicas.gather`), and L_pi is scaled by the replica count so that the replicas' mean is
    the loss of the whole minibatch.

    Args:
      log_pi, advantages: [T, B], this replica's shard.
      log_temperature: scalar variable, log eta.
    """
    advantages = tf.stop_gradient(tf.reshape(advantages, [-1]))
    everyone = replicas.gather(advantages)
    k = tf.maximum(1, tf.cast(tf.cast(tf.size(everyone), tf.float32) * top_fraction, tf.int32))
    threshold = tf.reduce_min(tf.math.top_k(everyone, k, sorted=False).values)
    temperature = tf.exp(log_temperature)
    top_everyone = everyone >= threshold
    top_scaled = tf.where(top_everyone, everyone / temperature, -float("inf"))
    log_normalizer = tf.stop_gradient(tf.reduce_logsumexp(top_scaled))
    scaled = tf.where(advantages >= threshold, advantages / tf.stop_gradient(temperature), -float("inf"))
    psi = tf.exp(scaled - log_normalizer)  # this replica's share of softmax_{D~}(A / eta)
    policy_loss = -float(replicas.count()) * tf.reduce_sum(psi * tf.reshape(log_pi, [-1]))
    top_count = tf.reduce_sum(tf.cast(top_everyone, tf.float32))
    temperature_loss = temperature * epsilon_temperature + temperature * (
        tf.reduce_logsumexp(top_scaled) - tf.math.log(top_count)
    )
    return LossOutput(policy_loss + temperature_loss, {"vmpo_temperature": temperature})


def trust_region_loss(
    kl_components: Sequence[tf.Tensor], log_multipliers: tf.Tensor, epsilons: Sequence[float]
) -> LossOutput:
    """KL trust region with Lagrange multipliers alpha_i = exp(log_multipliers[i]) (V-MPO, eq. 5):

        L_alpha = sum_i alpha_i (epsilon_i - sg[KL_i]) + sg[alpha_i] KL_i,   KL_i = mean(kl_components[i])

    The first term raises alpha_i while KL_i exceeds epsilon_i; the second pulls the policy back.

    Args:
      kl_components: each [T, B], KL(behaviour || current) parts (`ActionDistribution.kl_components`).
      log_multipliers: [K] variable, one per component.
      epsilons: K bounds.
    """
    multipliers = tf.exp(log_multipliers)
    loss, metrics = 0.0, {}
    for i, (kl, epsilon) in enumerate(zip(kl_components, epsilons)):
        mean_kl = tf.reduce_mean(kl)
        loss += multipliers[i] * (epsilon - tf.stop_gradient(mean_kl)) + tf.stop_gradient(multipliers[i]) * mean_kl
        metrics[f"vmpo_alpha_{i}"] = multipliers[i]
    return LossOutput(loss, metrics)


def value_loss(
    values: tf.Tensor,
    targets: tf.Tensor,
    *,
    kind: Literal["squared", "huber"] = "squared",
    huber_delta: float = 1.0,
    old_values: tf.Tensor | None = None,
    clip: float = 0.0,
) -> LossOutput:
    """Regression of `values` [T, B] onto `targets` [T, B] (gradients stopped).

    squared: 0.5 (target - v)^2. huber: 0.5 e^2 where |e| <= delta, else delta (|e| - delta / 2).
    With `clip` > 0 (PPO-style value clipping), the loss is the larger of the loss of v and the loss
    of old_v + clip(v - old_v, -clip, clip), where `old_values` [T, B] are the behaviour's predictions.
    """
    targets = tf.stop_gradient(targets)

    def per_step(predictions: tf.Tensor) -> tf.Tensor:
        error = targets - predictions
        if kind == "squared":
            return 0.5 * tf.square(error)
        absolute = tf.abs(error)
        quadratic = tf.minimum(absolute, huber_delta)
        return 0.5 * tf.square(quadratic) + huber_delta * (absolute - quadratic)

    losses = per_step(values)
    if clip > 0:
        old_values = tf.stop_gradient(old_values)
        losses = tf.maximum(losses, per_step(old_values + tf.clip_by_value(values - old_values, -clip, clip)))
    return LossOutput(tf.reduce_mean(losses), {})
