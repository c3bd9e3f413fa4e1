"""How an on-policy learner sizes its train step from the envs it serves: `batch_size: auto`.

A learner serves however many envs its actors bring, and actors come and go. With a fixed batch of B
unrolls, N envs finish N unrolls of T transitions every T env steps, so the learner takes N / B train
steps while one unroll is acted on: an unroll is trained on N / B policy versions after it was acted
on (policy lag), and the lag grows with every env added. With `batch_size: auto` the learner takes
one unroll per `auto_batch_slots` env slots it leases for training,

    B = ceil(N / auto_batch_slots)    (rounded up to a multiple of the gradient step's split),

so the lag stays near `auto_batch_slots` train steps however many envs there are, and the learning
rate is scaled with the batch's square root,

    learning_rate(B) = learning_rate * sqrt(B / learning_rate_batch),

the rule for Adam (Malladi et al., "On the SDEs and Scaling Rules for Adaptive Gradient
Algorithms", NeurIPS 2022, https://arxiv.org/abs/2205.10287). The same rule holds for every env:
CartPole and Atari alike. docs/agents.md shows what it does to sample efficiency.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Annotated, Literal, Protocol

from pydantic import Field

AUTO = "auto"
BatchSize = Annotated[int, Field(ge=1, le=4096)] | Literal["auto"]
BatchRule = Callable[[int], int]  # env slots leased for training -> unrolls per train step


class Scaled(Protocol):
    """The fields of an agent's config the rule reads."""

    batch_size: BatchSize
    auto_batch_slots: int
    learning_rate: float
    learning_rate_batch: int
    lr_decay: bool


def auto_batch_size(train_slots: int, slots_per_unroll: int, multiple: int = 1) -> int:
    """Unrolls per train step for `train_slots` env slots: one per `slots_per_unroll` slots, at least one,
    rounded up to a multiple of `multiple` (training replicas x minibatches)."""
    if slots_per_unroll < 1 or multiple < 1:
        raise ValueError(f"slots_per_unroll ({slots_per_unroll}) and multiple ({multiple}) must be positive")
    unrolls = max(1, math.ceil(train_slots / slots_per_unroll))
    return math.ceil(unrolls / multiple) * multiple


def learning_rate(config: Scaled, batch_size: int, frames: int, total_frames: int) -> float:
    """The learning rate of a train step on `batch_size` unrolls after `frames` env frames.

    With `batch_size: auto` the config's learning rate is scaled by sqrt(batch_size / learning_rate_batch);
    a fixed batch size takes it as given. With `lr_decay` it then falls linearly to 0 at `total_frames`.
    """
    rate = config.learning_rate
    if config.batch_size == AUTO:
        rate *= math.sqrt(batch_size / config.learning_rate_batch)
    if config.lr_decay:
        rate *= max(0.0, 1.0 - frames / total_frames)
    return rate
