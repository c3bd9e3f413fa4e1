"""Hyperparameters of the R2D2 agent (SEED RL's defaults).

Imports no TensorFlow: the controller validates specs without it.
"""

from __future__ import annotations

from pydantic import Field, ValidationInfo, field_validator

from seedrl.spec.base import SpecModel
from seedrl.spec.replay import ReplayConfig, check_fill_covers_batch


def _r2d2_replay() -> ReplayConfig:
    # R2D2's exponents. 10k unrolls of 121 Atari steps (84x84x4 bytes each) take 34 GB; the learner
    # refuses a replay larger than its machine's memory.
    return ReplayConfig(capacity=10_000, min_fill=1_000, priority_exponent=0.9, importance_exponent=0.6)


class R2D2Config(SpecModel):
    """R2D2: recurrent double Q-learning from a prioritized replay of unrolls with burn-in."""

    # Optimiser.
    learning_rate: float = Field(1e-4, gt=0, le=10, description="Adam learning rate.")
    adam_epsilon: float = Field(1e-3, gt=0, le=1, description="Adam epsilon.")
    max_grad_norm: float = Field(40.0, gt=0, le=1e6, description="Clip gradients to this global norm.")

    # Data.
    batch_size: int = Field(64, ge=1, le=4096, description="Unrolls per train step.")
    unroll_length: int = Field(80, ge=1, le=10_000, description="Trained transitions per unroll (T); unrolls hold burn_in + T + 1 steps.")
    burn_in: int = Field(40, ge=0, validate_default=True, le=10_000, description="Steps before each unroll that only warm up the LSTM state (no gradients).")
    replay: ReplayConfig = Field(default_factory=_r2d2_replay, validate_default=True, description="The prioritized replay of unrolls.")

    # Loss.
    discount: float = Field(0.997, ge=0, le=1, description="Discount factor gamma.")
    n_steps: int = Field(5, ge=1, validate_default=True, le=1000, description="Steps of the n-step double-Q return (at most unroll_length).")
    value_rescaling: bool = Field(True, description="Learn Q in the space of h(x) = sign(x)(sqrt(|x|+1)-1) + eps x.")
    value_rescaling_eps: float = Field(1e-3, gt=0, le=1, description="eps of the value rescaling h.")
    target_update_period: int = Field(2500, ge=1, le=10_000_000, description="Gradient steps between copies of the online network to the target network.")
    priority_eta: float = Field(0.9, ge=0, le=1, description="Unroll priority: eta max|TD| + (1 - eta) mean|TD|.")
    reward_clipping: bool = Field(False, description="Clip rewards to [-1, 1] (SEED uses value rescaling instead).")

    # Acting.
    epsilon_base: float = Field(0.4, ge=0, le=1, description="Ape-X exploration: the leased slots act with epsilons base^(1 + alpha u), u spread evenly over [0, 1).")
    epsilon_alpha: float = Field(7.0, ge=0, le=100, description="Ape-X exploration exponent alpha.")
    eval_epsilon: float = Field(1e-3, ge=0, le=1, description="Epsilon of evaluation envs (and of the exported policy's action).")

    # Network (the torso and LSTM come from the spec's `network`).
    head_hidden_size: int = Field(512, ge=1, le=65_536, description="Hidden units of each dueling stream (value, advantage).")

    @field_validator("n_steps")
    @classmethod
    def _n_fits(cls, n_steps: int, info: ValidationInfo) -> int:
        unroll_length = info.data.get("unroll_length")
        if unroll_length is not None and n_steps > unroll_length:
            raise ValueError(f"n_steps ({n_steps}) cannot exceed unroll_length ({unroll_length})")
        return n_steps

    @field_validator("burn_in")
    @classmethod
    def _burn_in_shorter(cls, burn_in: int, info: ValidationInfo) -> int:
        unroll_length = info.data.get("unroll_length")
        if unroll_length is not None and burn_in >= unroll_length:
            raise ValueError(
                f"burn_in ({burn_in}) must be shorter than unroll_length ({unroll_length}): most of each unroll "
                "should be trained on"
            )
        return burn_in

    @field_validator("replay")
    @classmethod
    def _fill_covers_batch(cls, replay: ReplayConfig, info: ValidationInfo) -> ReplayConfig:
        return check_fill_covers_batch(replay, info.data.get("batch_size"))
