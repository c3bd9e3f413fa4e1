"""Hyperparameters of the on-policy agent and its presets (`ppo`, `vpg`, `awr`, `vmpo`).

Imports no TensorFlow: the controller validates specs without it.

An experiment picks `agent: policy_gradient` to set every option itself, or a preset name: the
preset fills the options it defines (`PRESETS`) unless the spec sets them, and its policy loss is
fixed. `resolve` applies a preset; the experiment spec calls it while validating, so a spec always
holds the options that will run.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from seedrl.spec.base import SpecModel

from seedrl.spec.scaling import AUTO, BatchSize, Minibatches, auto_minibatches

PolicyLoss = Literal["vpg", "ppo", "vtrace", "awr", "vmpo"]
AdvantageEstimator = Literal["gae", "vtrace", "n_step"]
BatchMode = Literal["repeat", "shuffle", "split", "split_with_advantage_recomputation"]
ActionDistributionName = Literal["auto", "categorical", "gaussian", "clipped_gaussian", "tanh_gaussian"]

SPLIT_MODES = ("split", "split_with_advantage_recomputation")


class PolicyGradientConfig(SpecModel):
    """Options of the on-policy agent (defaults: the `policy_gradient` agent, a one-pass actor-critic)."""

    # Policy loss.
    policy_loss: PolicyLoss = Field(
        "vpg", description="vpg (advantage-weighted log-likelihood), ppo (clipped surrogate), vtrace (importance-"
                           "weighted policy gradient), awr (exponentiated advantages) or vmpo (top-half "
                           "advantages with Lagrange multipliers).",
    )
    ppo_epsilon: float = Field(0.2, gt=0, lt=1, description="ppo: clip the probability ratio to [1 - epsilon, 1 + epsilon].")
    clip_pg_rho_threshold: float = Field(1.0, gt=0, le=1e3, description="vtrace loss: cap of the importance weight of the policy gradient.")
    awr_beta: float = Field(1.0, gt=0, le=1e6, description="awr: temperature beta of the weights exp(A / beta).")
    awr_max_weight: float = Field(20.0, gt=1, le=1e6, description="awr: cap of the weights exp(A / beta).")
    vmpo_top_fraction: float = Field(0.5, gt=0, le=1, description="vmpo: share of transitions (highest advantages) the policy is fitted to.")
    vmpo_epsilon_temperature: float = Field(0.1, gt=0, le=100, description="vmpo: bound epsilon_eta of the temperature's KL constraint.")
    vmpo_epsilon_kl: float = Field(0.01, gt=0, le=100, description="vmpo: bound of the KL trust region (categorical KL, or of Gaussian means).")
    vmpo_epsilon_kl_std: float = Field(1e-4, gt=0, le=100, description="vmpo: bound of the KL trust region of Gaussian scales.")
    vmpo_initial_temperature: float = Field(1.0, gt=0, le=1e6, description="vmpo: initial temperature eta.")
    vmpo_initial_alpha: float = Field(5.0, gt=0, le=1e6, description="vmpo: initial trust-region multipliers alpha.")
    vmpo_multiplier_learning_rate: float = Field(
        1e-2, gt=0, le=10, description="vmpo: Adam learning rate of log eta and log alpha (their own optimiser).",
    )

    # Advantages and value targets.
    advantage_estimator: AdvantageEstimator = Field(
        "gae", description="gae (generalised advantage estimation), vtrace (off-policy corrected targets) or n_step.",
    )
    discount: float = Field(0.99, ge=0, le=1, description="Discount factor gamma.")
    td_lambda: float = Field(0.95, ge=0, le=1, description="gae and vtrace: lambda (0: one-step TD, 1: Monte Carlo).")
    n_step: int = Field(5, ge=1, le=256, description="n_step: rewards summed before bootstrapping.")
    clip_rho_threshold: float = Field(1.0, gt=0, le=1e3, description="vtrace advantages: rho-bar, cap of the importance weights in the targets.")
    reward_clipping: Literal["none", "abs_one"] = Field("none", description="Clip rewards to [-1, 1] (abs_one) or not.")
    reward_scale: float = Field(1.0, gt=0, le=1e6, description="Multiply rewards by this before anything else.")

    # Value loss.
    value_loss: Literal["squared", "huber"] = Field("squared", description="Value regression loss.")
    huber_delta: float = Field(1.0, gt=0, le=1e6, description="huber: where the loss turns from quadratic to linear.")
    value_clipping: float = Field(0.0, ge=0, le=1e6, description="PPO-style value clipping around the behaviour's value; 0 turns it off.")
    baseline_cost: float = Field(0.5, ge=0, le=1e3, description="Weight of the value loss.")

    # Normalisation.
    normalize_observations: bool = Field(False, description="Standardise observations with running mean and variance (float observations only).")
    normalize_values: bool = Field(
        False, description="Learn values in units of running statistics of the value targets (not PopArt: the "
                           "value head is not rescaled when the statistics move).",
    )
    normalize_advantages: bool = Field(False, description="Standardise advantages within each minibatch.")

    # Regularisers.
    entropy_cost: float = Field(0.01, ge=0, le=1e3, description="Weight of the entropy bonus.")
    kl_cost: float = Field(0.0, ge=0, le=1e3, description="Weight of the KL(behaviour || current policy) penalty.")

    # Optimisation.
    learning_rate: float = Field(1e-3, gt=0, le=10, description="Adam learning rate at the start of training.")
    lr_decay: bool = Field(True, description="Decay the learning rate linearly to 0 at total_frames, as SEED does.")
    adam_epsilon: float = Field(1e-5, gt=0, le=1, description="Adam epsilon.")
    max_grad_norm: float = Field(0.5, ge=0, le=1e6, description="Clip gradients to this global norm; 0 turns clipping off.")
    epochs: int = Field(1, ge=1, le=1000, description="Passes over each batch.")
    minibatches: Minibatches = Field(
        1, description="Gradient steps per pass; each uses 1/minibatches of the batch. Or auto: one per "
                       "auto_minibatch_unrolls unrolls, so each step keeps its size as the batch follows the envs "
                       "(docs/agents.md).",
    )
    auto_minibatch_unrolls: int = Field(4, ge=1, le=4096, description="minibatches auto: unrolls per gradient step.")
    batch_mode: BatchMode = Field(
        "repeat", description="How passes split a batch: repeat (the same unroll minibatches each pass), shuffle "
                              "(unrolls reshuffled each pass), split (advantages computed once, transitions "
                              "shuffled) or split_with_advantage_recomputation (split, advantages recomputed "
                              "before each pass). Advantages are recomputed per minibatch in repeat and shuffle.",
    )

    # Action distribution.
    action_distribution: ActionDistributionName = Field(
        "auto", description="auto (categorical for discrete actions, clipped_gaussian for boxes), categorical, "
                            "gaussian (unbounded), clipped_gaussian or tanh_gaussian.",
    )
    initial_std: float = Field(0.5, gt=0, le=1e3, description="Gaussians: the standard deviation of a zero raw output.")
    min_std: float = Field(1e-3, ge=0, le=1e3, description="Gaussians: the smallest standard deviation.")

    # Data.
    batch_size: BatchSize = Field(
        "auto", description="Unrolls per update (one update: epochs x minibatches gradient steps), or auto: one per "
                            "auto_batch_slots env slots served for training, in whole multiples of minibatches (docs/agents.md).",
    )
    auto_batch_slots: int = Field(2, ge=1, le=4096, description="batch_size auto: env slots per unroll of an update.")
    unroll_length: int = Field(32, ge=1, le=1000, description="Transitions per unroll (T; unrolls hold T+1 steps).")


# Options each preset sets; the others keep PolicyGradientConfig's defaults.
PRESETS: dict[str, dict[str, Any]] = {
    "policy_gradient": {},
    "vpg": {"policy_loss": "vpg"},
    "ppo": {
        "policy_loss": "ppo", "advantage_estimator": "gae", "td_lambda": 0.95, "epochs": 4, "minibatches": AUTO,
        "batch_mode": "split", "normalize_advantages": True, "entropy_cost": 0.0, "learning_rate": 1e-3,
    },
    "awr": {
        "policy_loss": "awr", "advantage_estimator": "gae", "awr_beta": 1.0, "epochs": 2, "minibatches": AUTO,
        "batch_mode": "split", "normalize_advantages": True, "entropy_cost": 0.0,
    },
    "vmpo": {
        "policy_loss": "vmpo", "advantage_estimator": "n_step", "n_step": 32, "entropy_cost": 0.0,
        "normalize_values": True,
    },
}

# Options that only some choices read: option -> (the field that decides, the values that read it).
_APPLIES_WHEN: dict[str, tuple[str, tuple[str, ...]]] = {
    "ppo_epsilon": ("policy_loss", ("ppo",)),
    "clip_pg_rho_threshold": ("policy_loss", ("vtrace",)),
    "awr_beta": ("policy_loss", ("awr",)),
    "awr_max_weight": ("policy_loss", ("awr",)),
    **{name: ("policy_loss", ("vmpo",)) for name in PolicyGradientConfig.model_fields if name.startswith("vmpo_")},
    "auto_minibatch_unrolls": ("minibatches", (AUTO,)),
    "td_lambda": ("advantage_estimator", ("gae", "vtrace")),
    "n_step": ("advantage_estimator", ("n_step",)),
    "clip_rho_threshold": ("advantage_estimator", ("vtrace",)),
    "huber_delta": ("value_loss", ("huber",)),
    "initial_std": ("action_distribution", ("auto", "gaussian", "clipped_gaussian", "tanh_gaussian")),
    "min_std": ("action_distribution", ("auto", "gaussian", "clipped_gaussian", "tanh_gaussian")),
}


def resolve(agent: str, config: PolicyGradientConfig) -> PolicyGradientConfig:
    """The options `agent` runs with: the preset's, overridden by those `config` sets explicitly.

    Raises ValueError naming the option when the combination is invalid.
    """
    preset = PRESETS[agent]
    given = config.model_dump(include=config.model_fields_set)
    if "policy_loss" in preset and given.get("policy_loss", preset["policy_loss"]) != preset["policy_loss"]:
        raise ValueError(
            f"policy_loss: agent {agent} uses policy_loss {preset['policy_loss']}; choose agent policy_gradient "
            f"to combine another loss freely"
        )
    merged = {**preset, **given}
    # A preset's option that the final choices do not read falls back to its default.
    for name in set(preset) - set(given):
        decider, values = _APPLIES_WHEN.get(name, (None, ()))
        if decider is not None and merged.get(decider, PolicyGradientConfig.model_fields[decider].default) not in values:
            del merged[name]
    resolved = PolicyGradientConfig.model_validate(merged)
    check_combination(resolved)
    return resolved


def check_combination(config: PolicyGradientConfig) -> None:
    """Raise ValueError, naming the option, for options that contradict each other or have no effect."""
    defaults = PolicyGradientConfig()
    for name, (decider, values) in _APPLIES_WHEN.items():
        if getattr(config, decider) not in values and getattr(config, name) != getattr(defaults, name):
            allowed = " or ".join(values)
            raise ValueError(f"{name}: applies only with {decider} {allowed}, not {getattr(config, decider)}")
    if config.min_std >= config.initial_std:
        raise ValueError(f"min_std: must be below initial_std ({config.initial_std})")
    if config.minibatches == AUTO:
        if config.batch_size != AUTO:
            auto_minibatches(config.batch_size, config.auto_minibatch_unrolls)
        return  # an automatic batch is sized in whole multiples of auto_minibatch_unrolls
    if config.batch_size == AUTO:
        return  # sized in whole multiples of minibatches x training replicas
    if config.batch_mode in SPLIT_MODES:
        transitions = config.batch_size * config.unroll_length
        if transitions % config.minibatches:
            raise ValueError(
                f"minibatches: batch mode {config.batch_mode} splits batch_size x unroll_length = {transitions} "
                f"transitions into {config.minibatches} equal minibatches; choose a divisor"
            )
    elif config.batch_size % config.minibatches:
        raise ValueError(
            f"minibatches: batch mode {config.batch_mode} splits the batch's {config.batch_size} unrolls into "
            f"{config.minibatches} equal minibatches; choose a divisor of batch_size"
        )


def check_network(config: PolicyGradientConfig, lstm_size: int) -> None:
    """Split batch modes train on single transitions, so they need a feed-forward network."""
    if config.batch_mode in SPLIT_MODES and lstm_size:
        raise ValueError(
            f"batch_mode: {config.batch_mode} trains on single transitions and needs a feed-forward network "
            f"(network.lstm_size 0, not {lstm_size}); use repeat or shuffle with an LSTM"
        )


def check_replicas(config: PolicyGradientConfig, replicas: int) -> None:
    """Every training replica takes an equal share of each minibatch; ValueError naming the option if not.

    (That the batch itself splits evenly is checked where the learner starts; an automatic batch is sized so
    that it does.)
    """
    if config.minibatches == AUTO:
        unrolls, count = config.auto_minibatch_unrolls, 1
        which = f"each minibatch (auto_minibatch_unrolls {unrolls})"
    elif config.batch_size == AUTO:
        return
    else:
        unrolls, count = config.batch_size, config.minibatches
        which = f"each of the {count} minibatches"
    if config.batch_mode in SPLIT_MODES:
        size, units = unrolls * config.unroll_length // count, "transitions"
    else:
        size, units = unrolls // count, "unrolls"
    if size % replicas:
        raise ValueError(
            f"minibatches: {which} holds {size} {units}, which do not split evenly over {replicas} training replicas"
        )


def minibatch_count(config: PolicyGradientConfig, batch_size: int) -> int:
    """Gradient steps per pass over a batch of `batch_size` unrolls."""
    if config.minibatches == AUTO:
        return auto_minibatches(batch_size, config.auto_minibatch_unrolls)
    return config.minibatches
