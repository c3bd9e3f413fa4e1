"""The layout of a run folder: what a learner, its actors and their launcher write where."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunFolder:
    """One experiment's folder (the learner's `logdir`)."""

    path: Path

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def tensorboard(self) -> Path:
        return self.path / "tensorboard"

    @property
    def logs(self) -> Path:
        return self.path / "logs"

    @property
    def exports(self) -> Path:
        """SavedModels exported from checkpoints, one folder per checkpoint."""
        return self.path / "exports"

    @property
    def secret(self) -> Path:
        """The experiment's secret (mode 0600), which its actors and status polls present to its learner."""
        return self.path / "secret"

    @property
    def learner_config(self) -> Path:
        return self.path / "learner.json"

    def actor_config(self, name: str) -> Path:
        """The config of actor process `name` (`actor-<i>` or `evaluator`)."""
        return self.path / f"{name}.json"

    def metrics_port_file(self, name: str) -> Path:
        """The /metrics port actor process `name` bound (it picks a free one)."""
        return self.path / f"{name}.metrics-port"

    @property
    def final_status(self) -> Path:
        """The learner's last LearnerStatus (JSON), written as it stops."""
        return self.path / "learner_status.json"

    @property
    def summary(self) -> Path:
        """`seedrl train`'s summary of the run."""
        return self.path / "summary.json"
