"""Hyperparameters of the SAC agent (SEED RL's defaults).

Imports no TensorFlow: the controller validates specs without it.
"""

from __future__ import annotations

from pydantic import Field, ValidationInfo, field_validator

from seedrl.spec.base import SpecModel
from seedrl.spec.replay import ReplayConfig, check_fill_covers_batch


def _sac_replay() -> ReplayConfig:
    # 1M transitions (unrolls of one transition), sampled uniformly as in the SAC paper.
    return ReplayConfig(capacity=1_000_000, min_fill=10_000, priority_exponent=0.0, importance_exponent=0.0)


class SACConfig(SpecModel):
    """Soft actor-critic: a tanh-Gaussian policy, twin Q critics with Polyak targets, a learned temperature."""

    # Optimiser (one Adam each for the policy, the critics and the temperature).
    learning_rate: float = Field(3e-4, gt=0, le=10, description="Adam learning rate of the policy, critics and temperature.")
    adam_epsilon: float = Field(1e-7, gt=0, le=1, description="Adam epsilon.")

    # Data.
    batch_size: int = Field(256, ge=1, le=65_536, description="Unrolls per train step.")
    unroll_length: int = Field(1, ge=1, le=10_000, description="Transitions per unroll (T; unrolls hold T+1 steps).")
    replay: ReplayConfig = Field(default_factory=_sac_replay, validate_default=True, description="The replay of unrolls.")

    # Loss.
    discount: float = Field(0.99, ge=0, le=1, description="Discount factor gamma.")
    target_smoothing: float = Field(0.005, gt=0, le=1, description="tau: target critics move this far towards the critics each step (Polyak).")
    initial_temperature: float = Field(1.0, gt=0, le=1e4, description="Entropy temperature alpha at the start (it is learned).")
    target_entropy: float | None = Field(None, ge=-1e4, le=1e4, description="Entropy the temperature steers towards; None for -|A| (the action dimensions).")

    # Network (the torso, and an LSTM if any, come from the spec's `network`).
    critic_hidden_size: int = Field(256, ge=1, le=65_536, description="Hidden units of each critic's head over [features, action].")
    initial_std: float = Field(1.0, gt=0.001, le=100, description="Policy standard deviation (before tanh) for a raw output of 0.")

    @field_validator("replay")
    @classmethod
    def _fill_covers_batch(cls, replay: ReplayConfig, info: ValidationInfo) -> ReplayConfig:
        return check_fill_covers_batch(replay, info.data.get("batch_size"))
