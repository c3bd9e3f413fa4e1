"""Configuration of a learner process."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from seedrl.common import defaults
from seedrl.learner.agents.vtrace.config import VTraceConfig


class LearnerConfig(BaseModel):
    """Everything one learner process needs: experiment, agent, serving and checkpoints."""

    model_config = ConfigDict(extra="forbid")

    # Experiment.
    experiment: str = Field("default", min_length=1, max_length=63, description="Experiment name (metrics label).")
    env: str = Field("gym:CartPole-v1", description="Environment id as family:name; actors must match it.")
    agent: Literal["vtrace"] = Field("vtrace", description="Learning agent.")
    vtrace: VTraceConfig = Field(default_factory=VTraceConfig)
    total_frames: int = Field(10_000_000, gt=0, description="Stop after this many environment frames.")
    seed: int = Field(0, description="Seed for TensorFlow's random numbers.")
    logdir: Path = Field(Path("runs/default"), description="Checkpoints, TensorBoard summaries and logs go here.")

    # Serving.
    host: str = Field("[::]", description="Address the gRPC server binds.")
    port: int = Field(defaults.LEARNER_PORT, ge=0, le=65535, description="gRPC port (0 picks a free one).")
    metrics_port: int = Field(-1, ge=-1, le=65535, description="Prometheus /metrics port (0 picks one, -1 disables).")
    max_message_mb: float = Field(defaults.MAX_MESSAGE_MB, gt=0, le=1024, description="Largest accepted gRPC message.")
    max_slots: int = Field(4096, ge=1, le=1_000_000, description="Env slots the learner can lease to actors.")

    # Batched inference.
    max_batch_size: int = Field(256, ge=1, description="Flush an inference batch once this many envs wait.")
    max_wait_ms: float = Field(2.0, ge=0, description="Flush an inference batch once its oldest request waited this long.")
    unroll_queue_batches: int = Field(2, ge=1, description="Training queue capacity, in train batches (bounds policy lag).")

    inference_only: bool = Field(False, description="Serve actions with the current policy but assemble no unrolls and never train (benchmarks, evaluation).")

    # Checkpoints and summaries.
    checkpoint_every_s: float = Field(120.0, gt=0, description="Seconds between checkpoints (one is also written at exit).")
    keep_checkpoints: int = Field(3, ge=1, description="Checkpoints kept on disk.")
    summary_every_s: float = Field(5.0, gt=0, description="Seconds between TensorBoard summary writes.")

    @property
    def checkpoint_dir(self) -> Path:
        return self.logdir / "checkpoints"

    @property
    def final_status_path(self) -> Path:
        """Where the learner leaves its final LearnerStatus (JSON) when it stops."""
        return self.logdir / "learner_status.json"

    @property
    def tensorboard_dir(self) -> Path:
        return self.logdir / "tensorboard"
