"""Hyperparameters of the V-trace (IMPALA) agent."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from seedrl.spec.base import SpecModel

from seedrl.spec.scaling import BatchSize


class VTraceConfig(SpecModel):
    """V-trace / IMPALA hyperparameters (SEED RL's loss defaults; sizes tuned for small envs)."""

    # Optimiser.
    learning_rate: float = Field(3e-3, gt=0, le=10, description="Adam learning rate at the start of training.")
    lr_decay: bool = Field(True, description="Decay the learning rate linearly to 0 at total_frames, as SEED does.")
    adam_epsilon: float = Field(1e-5, gt=0, le=1, description="Adam epsilon.")
    max_grad_norm: float = Field(40.0, gt=0, le=1e6, description="Clip gradients to this global norm.")

    # Loss.
    discount: float = Field(0.99, ge=0, le=1, description="Discount factor gamma.")
    baseline_cost: float = Field(0.5, ge=0, le=1e3, description="Weight of the value (baseline) loss.")
    entropy_cost: float = Field(0.005, ge=0, le=1e3, description="Weight of the entropy bonus.")
    trace_lambda: float = Field(1.0, ge=0, le=1, description="V-trace lambda (trace cutting).")
    clip_rho_threshold: float = Field(1.0, gt=0, le=1e3, description="rho-bar: clips importance ratios in the value targets.")
    clip_pg_rho_threshold: float = Field(1.0, gt=0, le=1e3, description="Clips importance ratios in the policy-gradient advantage.")
    reward_clipping: Literal["none", "abs_one"] = Field("none", description="Clip rewards to [-1, 1] (abs_one, for Atari) or not.")

    # Data.
    batch_size: BatchSize = Field(
        "auto", description="Unrolls per train step, or auto: one per auto_batch_slots env slots served for training, "
                            "so that policy lag stays the same as envs are added (docs/agents.md).",
    )
    auto_batch_slots: int = Field(2, ge=1, le=4096, description="batch_size auto: env slots per unroll of a train step.")
    unroll_length: int = Field(16, ge=1, le=1000, description="Transitions per unroll (T; unrolls hold T+1 steps).")
