"""Configuration of `seedrl train`: a learner plus local actor processes."""

from __future__ import annotations

from pydantic import Field

from seedrl.common import defaults
from seedrl.learner.config import LearnerConfig


class TrainConfig(LearnerConfig):
    """A local training run: the learner's settings plus its actors and stop conditions."""

    port: int = Field(0, ge=0, le=65535, description=f"Learner gRPC port (0 picks a free one; services use {defaults.LEARNER_PORT}).")
    actors: int = Field(2, ge=1, le=256, description="Actor processes.")
    envs_per_actor: int = Field(16, ge=1, le=4096, description="Environments per actor.")
    streams_per_actor: int = Field(2, ge=1, le=64, description="Env groups per actor stepped while others wait (2 = double buffering).")
    stop_at_return: float | None = Field(None, description="Stop once the mean return of the last 100 episodes reaches this.")
    max_seconds: float | None = Field(None, gt=0, description="Stop after this many seconds of wall time.")
    actor_metrics: bool = Field(False, description="Serve /metrics from every actor too (on free ports).")

    def learner_config(self) -> LearnerConfig:
        return LearnerConfig.model_validate(self.model_dump(include=set(LearnerConfig.model_fields)))
