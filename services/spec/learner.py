"""Configuration of a learner process: an experiment's learning spec plus how this process serves it."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from seedrl.common import defaults
from seedrl.common.run_folder import RunFolder
from seedrl.spec.auth import ServerAuth
from seedrl.spec.experiment import ExperimentName, LearningSpec


class LearnerConfig(LearningSpec):
    """Everything one learner process needs: the learning spec, serving, checkpoints and summaries."""

    experiment: ExperimentName = Field("default", description="Experiment name (metrics label).")
    logdir: Path = Field("runs/default", description="Checkpoints, TensorBoard summaries and logs go here.")

    # Serving.
    host: str = Field("[::]", description="Address the gRPC server binds ([::]: every interface; 127.0.0.1: this machine only).")
    port: int = Field(defaults.LEARNER_PORT, ge=0, le=65535, description="gRPC port (0 picks a free one).")
    auth: ServerAuth = Field(default_factory=ServerAuth, description="The experiment's secret callers must present, and TLS.")
    metrics_host: str = Field("0.0.0.0", description="Address the /metrics server binds.")
    metrics_port: int = Field(-1, ge=-1, le=65535, description="Prometheus /metrics port (0 picks one, -1 disables).")
    max_message_mb: float = Field(defaults.MAX_MESSAGE_MB, gt=0, le=1024, description="Largest accepted gRPC message.")
    stream_idle_timeout_s: float = Field(
        defaults.STREAM_IDLE_TIMEOUT_S, gt=0, le=86_400,
        description="End a stream whose actor sent nothing for this long, reclaiming its env slots.",
    )
    hello_timeout_s: float = Field(
        defaults.HELLO_TIMEOUT_S, gt=0, le=3600, description="End a stream whose first message (its Hello) takes longer than this.",
    )
    max_envs_per_stream: int | None = Field(
        None, ge=1, le=1_000_000,
        description="Most envs one stream may lease (runtimes set one actor's envs_per_actor); None: up to inference.max_slots.",
    )
    inference_only: bool = Field(False, description="Serve actions with the current policy but assemble no unrolls and never train (benchmarks, evaluation).")

    # Checkpoints and summaries.
    restore_from: Path | None = Field(
        None, description="Restore this checkpoint (path without suffix) instead of the newest one in the logdir.",
    )
    summary_every_s: float = Field(5.0, gt=0, description="Seconds between TensorBoard summary writes.")

    @property
    def folder(self) -> RunFolder:
        return RunFolder(self.logdir)
