"""How an on-policy learner sizes its train step from the envs it serves: `batch_size: auto`.

A learner serves however many envs its actors bring, and actors come and go. With a fixed batch of B
unrolls, N envs finish N unrolls of T transitions every T env steps, so the learner takes N / B train
steps while one unroll is acted on: an unroll is trained on about N / B policy versions after it was
acted on (policy lag), and the lag grows with every env added. With `batch_size: auto` the learner takes
one unroll per `auto_batch_slots` env slots it leases for training,

    B = ceil(N / auto_batch_slots)    (rounded up to a multiple of the gradient step's split),

so the lag stays near `auto_batch_slots` train steps however many envs there are, on CartPole as on
Atari, and as actors join and leave. An agent that takes several gradient steps per batch (the on-policy
agent's `minibatches`) can hold each step's size instead of its count: with `minibatches: auto` a pass takes
one gradient step per `auto_minibatch_unrolls` unrolls, so a batch that grows with the envs brings more
steps of the same size, not the same number of larger ones. The learning rate is the config's at every batch size: scaled
with the batch's square root it made V-trace's policy collapse at 2 x 64 envs (docs/agents.md has the
measurements).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Annotated, Literal

from pydantic import Field

AUTO = "auto"
BatchSize = Annotated[int, Field(ge=1, le=4096)] | Literal["auto"]
BatchRule = Callable[[int], int]  # env slots leased for training -> unrolls per train step
Minibatches = Annotated[int, Field(ge=1, le=65_536)] | Literal["auto"]


def auto_batch_size(train_slots: int, slots_per_unroll: int, multiple: int = 1) -> int:
    """Unrolls per train step for `train_slots` env slots: one per `slots_per_unroll` slots, at least one,
    rounded up to a multiple of `multiple` (training replicas x minibatches)."""
    if slots_per_unroll < 1 or multiple < 1:
        raise ValueError(f"slots_per_unroll ({slots_per_unroll}) and multiple ({multiple}) must be positive")
    unrolls = max(1, math.ceil(train_slots / slots_per_unroll))
    return math.ceil(unrolls / multiple) * multiple


def auto_minibatches(batch_size: int, unrolls_per_minibatch: int) -> int:
    """Gradient steps per pass over a batch of `batch_size` unrolls with `minibatches: auto`: one per
    `unrolls_per_minibatch` unrolls. ValueError if they do not divide the batch."""
    if unrolls_per_minibatch < 1 or batch_size % unrolls_per_minibatch:
        raise ValueError(
            f"minibatches: auto takes {unrolls_per_minibatch} unrolls per gradient step (auto_minibatch_unrolls), "
            f"which do not divide a batch of {batch_size} unrolls"
        )
    return batch_size // unrolls_per_minibatch
