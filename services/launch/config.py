"""Configuration of `seedrl train`: an ExperimentSpec run as local processes, plus stop conditions."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from seedrl.common import defaults
from seedrl.common.run_folder import RunFolder
from seedrl.controller.runtimes.local_experiment import LEARNER_MAX_RESTARTS, LEARNER_RESTART_WINDOW_S
from seedrl.spec.experiment import ExperimentName, ExperimentSpec

# Fields of the spec that mean nothing on one machine (kept out of the flags).
CLUSTER_ONLY_FIELDS = frozenset({"resources"})


class TrainConfig(ExperimentSpec):
    """A local training run: the experiment's spec, where it writes, and when it stops."""

    name: ExperimentName = Field("local", description="Experiment name (metrics label).")
    logdir: Path = Field("runs/default", description="Checkpoints, TensorBoard summaries, logs and summary.json go here.")
    host: str = Field(
        "127.0.0.1", min_length=1, max_length=253,
        description="Address the learner binds: 127.0.0.1 serves this machine only; 0.0.0.0 lets actors elsewhere in "
                    "(they need the run folder's secret file).",
    )
    port: int = Field(0, ge=0, le=65535, description=f"Learner gRPC port (0 picks a free one; services use {defaults.LEARNER_PORT}).")
    metrics_port: int = Field(-1, ge=-1, le=65535, description="Learner Prometheus /metrics port (-1 disables).")
    max_message_mb: float = Field(defaults.MAX_MESSAGE_MB, gt=0, le=1024, description="Largest gRPC message.")
    stop_at_return: float | None = Field(None, description="Stop once the mean return of the last 100 episodes reaches this.")
    max_seconds: float | None = Field(None, gt=0, description="Stop after this many seconds of wall time.")
    actor_metrics: bool = Field(False, description="Serve /metrics from every actor too (on free ports).")
    learner_restarts: int = Field(
        LEARNER_MAX_RESTARTS, ge=0, le=100,
        description=f"Restarts of a crashed learner within {LEARNER_RESTART_WINDOW_S:.0f} s before the run fails.",
    )

    def spec(self) -> ExperimentSpec:
        return ExperimentSpec.model_validate(self.model_dump(include=set(ExperimentSpec.model_fields)))

    @property
    def folder(self) -> RunFolder:
        return RunFolder(self.logdir)
