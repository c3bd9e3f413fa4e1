"""How far a batch is off-policy, and what it holds: diagnostics of one V-trace train step.

These explain a run that learns slowly as its envs grow: importance ratios far from 1 and a large
KL between the policy that acted and the one being trained mean the batch is stale (policy lag);
few episodes per batch mean its transitions are correlated.
"""

from __future__ import annotations

import tensorflow as tf

RHO_QUANTILES = (0.1, 0.5, 0.9)


def quantiles(values: tf.Tensor, qs: tuple[float, ...]) -> list[tf.Tensor]:
    """The `qs` quantiles (nearest rank) of every element of `values`."""
    flat = tf.sort(tf.reshape(values, [-1]))
    last = tf.cast(tf.size(flat) - 1, tf.float32)
    return [flat[tf.cast(tf.round(q * last), tf.int32)] for q in qs]


def off_policy_diagnostics(
    logits: tf.Tensor, behaviour_logits: tf.Tensor, actions: tf.Tensor, done: tf.Tensor, clip_rho_threshold: float
) -> dict[str, tf.Tensor]:
    """Scalars describing one batch of B unrolls of T+1 steps.

    Args:
      logits: [T+1, B, A] the trained policy's logits at every step.
      behaviour_logits: [T+1, B, A] the logits the actions were sampled from.
      actions: [T+1, B] the actions taken (the last step's is not trained on).
      done: [T+1, B] bool, an episode starts at this step.
      clip_rho_threshold: rho-bar of the V-trace targets.

    Returns:
      rho_p10, rho_p50, rho_p90: quantiles of pi(a|x) / mu(a|x) over the T x B transitions;
      rho_clipped: the share of them above rho-bar (their traces are cut);
      kl_behaviour: mean KL(mu || pi) over the transitions;
      entropy: mean entropy of pi;
      episodes: distinct episodes with at least one trained transition (B plus the episode
        starts at steps 1..T-1);
      batch_size: B.
    """
    logits_tm1, mu_logits_tm1 = logits[:-1], behaviour_logits[:-1]
    actions_tm1 = tf.cast(actions[:-1], tf.int32)
    log_pi = tf.nn.log_softmax(logits_tm1)
    log_mu = tf.nn.log_softmax(mu_logits_tm1)
    taken = tf.one_hot(actions_tm1, tf.shape(logits)[-1], dtype=log_pi.dtype)
    rho = tf.exp(tf.reduce_sum(taken * (log_pi - log_mu), axis=-1))
    diagnostics = dict(zip((f"rho_p{round(q * 100)}" for q in RHO_QUANTILES), quantiles(rho, RHO_QUANTILES)))
    batch = tf.shape(actions)[1]
    diagnostics.update(
        rho_clipped=tf.reduce_mean(tf.cast(rho > clip_rho_threshold, tf.float32)),
        kl_behaviour=tf.reduce_mean(tf.reduce_sum(tf.exp(log_mu) * (log_mu - log_pi), axis=-1)),
        entropy=tf.reduce_mean(-tf.reduce_sum(tf.exp(log_pi) * log_pi, axis=-1)),
        episodes=tf.cast(batch + tf.reduce_sum(tf.cast(done[1:-1], tf.int32)), tf.float32),
        batch_size=tf.cast(batch, tf.float32),
    )
    return diagnostics
