"""Hyperparameters of the prioritized replay shared by the replay agents (R2D2, SAC).

Imports no TensorFlow: the controller validates specs without it.
"""

from __future__ import annotations

from pydantic import Field, ValidationInfo, field_validator

from seedrl.spec.base import SpecModel


class ReplayConfig(SpecModel):
    """A prioritized replay of unrolls (Schaul et al. 2016, as Ape-X and R2D2 use it)."""

    capacity: int = Field(
        100_000, ge=1, le=100_000_000,
        description="Unrolls the replay holds; the oldest is overwritten when it is full.",
    )
    min_fill: int = Field(
        1_000, ge=1, le=100_000_000,
        description="Unrolls the replay must hold before training starts (and again after a learner restart).",
    )
    priority_exponent: float = Field(
        0.9, ge=0, le=10,
        description="alpha: unroll i is sampled with probability p_i^alpha / sum_j p_j^alpha (0 samples uniformly).",
    )
    importance_exponent: float = Field(
        0.6, ge=0, le=1,
        description="beta: losses are weighted by (N P(i))^-beta, normalised by the batch's largest weight.",
    )
    replay_ratio: float | None = Field(
        None, gt=0, le=100_000,
        description="Transitions sampled for training per transition inserted; acting waits for training and "
                    "training waits for acting to keep it. None trains as fast as it can.",
    )

    @field_validator("min_fill")
    @classmethod
    def _fill_fits(cls, min_fill: int, info: ValidationInfo) -> int:
        capacity = info.data.get("capacity")
        if capacity is not None and min_fill > capacity:
            raise ValueError(f"min_fill ({min_fill}) cannot exceed the replay capacity ({capacity})")
        return min_fill


def check_fill_covers_batch(replay: ReplayConfig, batch_size: int | None) -> ReplayConfig:
    """`replay`, or ValueError when its minimum fill is smaller than one train batch (for agent configs)."""
    if batch_size is not None and replay.min_fill < batch_size:
        raise ValueError(f"replay.min_fill ({replay.min_fill}) must be at least batch_size ({batch_size})")
    return replay
