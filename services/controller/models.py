"""The REST API's resources: an experiment is its spec plus an observed status."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from seedrl.spec.experiment import CHECKPOINT_REF_PATTERN, ExperimentSpec


class Phase(str, Enum):
    """Where an experiment is in its life.

    Pending: created, or starting (the learner does not answer yet). Running: the
    learner serves. Stopping: actors and learner are shutting down (final
    checkpoint). Stopped: stopped on request. Succeeded: reached total_frames.
    Failed: could not run (see the message).
    """

    PENDING = "Pending"
    RUNNING = "Running"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"

    @property
    def active(self) -> bool:
        """Processes exist (or are wanted) for the experiment."""
        return self in (Phase.PENDING, Phase.RUNNING, Phase.STOPPING)


class Condition(BaseModel):
    """One aspect of an experiment's state, as Kubernetes conditions are written.

    Both runtimes set LearnerReady, ActorsReady and Checkpointed; the Kubernetes runtime adds Synced
    (its API calls for the experiment went through, else the server's reason and message) and
    Progressing (False when a start or a stop is past its deadline). SpecValid appears (False) only when
    a stored spec no longer validates (an upgrade tightened a rule, say): its message names the rule, and
    the experiment is Failed.
    """

    type: Literal["LearnerReady", "ActorsReady", "Checkpointed", "Synced", "Progressing", "SpecValid"] = Field(
        description="Synced and Progressing come from the Kubernetes runtime; SpecValid (False) appears only when "
                    "a stored spec no longer validates: its message names the rule, and the experiment is Failed.",
    )
    status: Literal["True", "False", "Unknown"]
    reason: str = ""
    message: str = ""
    last_transition_time: datetime


class ExperimentStatus(BaseModel):
    """What the runtime observes of an experiment."""

    phase: Phase = Phase.PENDING
    message: str = ""
    desired_actors: int = 0
    ready_actors: int = Field(0, description="Actor processes (pods) alive.")
    connected_streams: int = Field(0, description="Actor streams connected to the learner.")
    frames: int = 0
    fps: float = 0.0
    mean_return_100: float | None = None
    episodes: int = 0
    learner_steps: int = 0
    latest_checkpoint: str | None = None
    learner_restarts: int = 0
    actor_restarts: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    conditions: list[Condition] = Field(default_factory=list)


class Experiment(BaseModel):
    name: str
    spec: ExperimentSpec
    status: ExperimentStatus
    created_at: datetime


class ExperimentList(BaseModel):
    items: list[Experiment]
    total: int = Field(description="Experiments matching the filter, on all pages.")
    limit: int
    offset: int


def _json_integer(value: Any) -> Any:
    """Refuse what only coercion would make an integer (`true`, `"3"`); 3.0 is one, as JSON Schema counts."""
    if isinstance(value, (bool, str)):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return value


JsonInteger = Annotated[int, BeforeValidator(_json_integer)]


class ScaleRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    actors: JsonInteger = Field(ge=0, le=1024, description="Actor processes (pods) to run.")


class ResumeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    checkpoint: str | None = Field(
        None, max_length=60, pattern=CHECKPOINT_REF_PATTERN,
        description="`ckpt-N` of this experiment or `other-experiment/ckpt-N`; the newest of this experiment if omitted.",
    )


class Checkpoint(BaseModel):
    name: str = Field(description="ckpt-N, N being the learner step.")
    step: int
    frames: int | None
    episodes: int | None
    mean_return_100: float | None
    time: datetime
    size_bytes: int


class CheckpointList(BaseModel):
    items: list[Checkpoint]


class ScrapeTargets(BaseModel):
    """One group of Prometheus HTTP service-discovery targets (`http_sd_configs`)."""

    targets: list[str] = Field(description="host:port of /metrics endpoints.")
    labels: dict[str, str] = Field(description="Target labels: `experiment` and `role` (learner or actor).")


class Problem(BaseModel):
    """An error, as RFC 9457 problem details (`application/problem+json`)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[dict[str, str]] | None = Field(None, description="For 422: each invalid field and why.")
