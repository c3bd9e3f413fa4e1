"""What an agent adds to `Agent` to learn from the prioritized replay (R2D2, SAC).

The learner drives a replay agent like this:

    out = agent.act(inputs, state)                       # inference, as for every agent
    replay.insert(unrolls, agent.initial_priorities(unrolls))   # each finished unroll
    sample = replay.sample(agent.batch_size)             # training thread
    metrics, priorities = agent.train_prioritized(batch, sample.weights, frames)
    replay.update_priorities(sample, priorities)
"""

from __future__ import annotations

import abc

import numpy as np

from seedrl.learner.agents.base import Agent, TrainingBatch
from seedrl.spec.replay import ReplayConfig
from seedrl.learner.unrolls import Unrolls


class ReplayAgent(Agent):
    """An agent trained on unrolls sampled from a prioritized replay instead of a FIFO queue."""

    @property
    @abc.abstractmethod
    def replay_config(self) -> ReplayConfig:
        """Capacity, exponents, minimum fill and replay ratio of the agent's replay."""

    @property
    def burn_in(self) -> int:
        """Steps before each unroll's T+1 that only warm up the recurrent state (unrolls hold burn_in+T+1)."""
        return 0

    @abc.abstractmethod
    def initial_priorities(self, unrolls: Unrolls) -> np.ndarray:
        """Priorities [n] of n new unrolls ([n, burn_in+T+1, ...] steps), from what acting recorded."""

    @abc.abstractmethod
    def train_prioritized(
        self, batch: TrainingBatch, weights: np.ndarray, frames: int
    ) -> tuple[dict[str, float], np.ndarray]:
        """One gradient step with per-unroll loss weights [B]; returns scalar metrics and new priorities [B]."""

    def train(self, batch: TrainingBatch, frames: int) -> dict[str, float]:
        """One gradient step with uniform weights."""
        batch_size = batch.steps["reward"].shape[1]
        metrics, _ = self.train_prioritized(batch, np.ones(batch_size, np.float32), frames)
        return metrics
