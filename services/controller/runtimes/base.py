"""What the REST API needs of a runtime (local processes or Kubernetes), and the errors runtimes raise."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from seedrl.spec.experiment import ExperimentSpec
from seedrl.controller.models import Checkpoint, Experiment, Phase, ScrapeTargets


class NotFound(LookupError):
    """No such experiment or checkpoint (404)."""


class Conflict(RuntimeError):
    """The operation clashes with the experiment's state (409)."""


class Invalid(ValueError):
    """A well-formed request that cannot apply to this experiment (422), naming the field."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class TooBusy(RuntimeError):
    """Too much work is queued already (429); try again after `retry_after_s`."""

    def __init__(self, message: str, retry_after_s: int):
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class ExportPlan:
    """How to export one checkpoint's policy: a `seedrl export` of `checkpoint` (a path without suffix,
    in `checkpoints`) with `config`, into `out`; `logs` is where its output goes."""

    experiment: str
    checkpoint: str
    checkpoints: Path
    config: Path
    out: Path
    logs: Path


class Runtime(Protocol):
    """Runs experiments and reports on them. Every method may raise NotFound, Conflict or Invalid."""

    def create(self, spec: ExperimentSpec, start: bool) -> Experiment: ...
    def list(self, phase: Phase | None, limit: int, offset: int) -> tuple[list[Experiment], int]: ...
    def get(self, name: str) -> Experiment: ...
    def start(self, name: str) -> Experiment: ...
    def stop(self, name: str) -> Experiment: ...
    def resume(self, name: str, checkpoint: str | None) -> Experiment: ...
    def scale(self, name: str, actors: int) -> Experiment: ...
    def delete(self, name: str, force: bool, delete_checkpoints: bool) -> None: ...
    def checkpoints(self, name: str) -> list[Checkpoint]: ...
    def checkpoint_files(self, name: str, checkpoint: str) -> list[Path]: ...
    def export_plan(self, name: str, checkpoint: str) -> ExportPlan: ...
    def learner_metrics(self, name: str) -> str: ...
    def scrape_targets(self) -> list[ScrapeTargets]: ...
    def ready(self) -> bool: ...
    def phase_counts(self) -> dict[Phase, int]: ...
