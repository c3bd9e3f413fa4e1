"""Configuration of an actor process."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from seedrl.spec.auth import ClientAuth
from seedrl.spec.env import EnvOptions
from seedrl.common import defaults


def _default_actor_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class ActorConfig(BaseModel):
    """One actor process: which learner, which environments, how many."""

    model_config = ConfigDict(extra="forbid")

    learner: str = Field(f"localhost:{defaults.LEARNER_PORT}", description="Learner gRPC address host:port.")
    auth: ClientAuth = Field(default_factory=ClientAuth, description="The experiment's secret to present, and TLS.")
    env: str = Field("gym:CartPole-v1", description="Environment id as family:name.")
    env_options: EnvOptions = Field(default_factory=EnvOptions, description="Options of the env's family.")
    envs_per_actor: int = Field(16, ge=1, le=4096, description="Environments this actor steps.")
    streams: int = Field(2, ge=1, le=64, description="Groups stepped while the others wait for actions (double buffering at 2).")
    actor_id: str = Field(default_factory=_default_actor_id, min_length=1, max_length=100, description="Stable actor name (default host-pid).")
    experiment: str = Field("default", description="Experiment name (metrics label).")
    seed: int = Field(0, description="Environment i is seeded with seed + i.")
    evaluation: bool = Field(False, description="Evaluation envs: greedy actions, not trained on, a separate return.")
    metrics_host: str = Field("0.0.0.0", description="Address the /metrics server binds.")
    metrics_port: int = Field(-1, ge=-1, le=65535, description="Prometheus /metrics port (0 picks one, -1 disables).")
    metrics_port_file: Path | None = Field(None, description="Write the /metrics port in use here (for service discovery).")
    max_message_mb: float = Field(defaults.MAX_MESSAGE_MB, gt=0, le=1024, description="Largest gRPC message.")
    backoff_initial_s: float = Field(0.1, gt=0, description="First wait before reconnecting to the learner.")
    backoff_max_s: float = Field(5.0, gt=0, description="Longest wait between reconnection attempts.")

    @model_validator(mode="after")
    def _check_streams(self) -> "ActorConfig":
        if self.streams > self.envs_per_actor:
            raise ValueError(f"streams ({self.streams}) cannot exceed envs_per_actor ({self.envs_per_actor})")
        return self
