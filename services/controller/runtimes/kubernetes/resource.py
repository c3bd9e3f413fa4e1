"""Experiment custom resources <-> the REST API's models (ExperimentSpec, ExperimentStatus, Experiment)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from pydantic import ValidationError

from seedrl.admission import admit
from seedrl.spec.experiment import ExperimentSpec
from seedrl.controller.models import Experiment, ExperimentStatus
from seedrl.controller.runtimes.kubernetes.crd import API_VERSION, KIND, STATUS_EXTRA

Object = dict[str, Any]

# A one-shot request, set by a resume: the checkpoint (`ckpt-N` or `other/ckpt-N`) the next start restores.
RESTORE_ANNOTATION = "seedrl.io/restore-from"


def name_of(resource: Object) -> str:
    return resource["metadata"]["name"]


def suspended(resource: Object) -> bool:
    return bool(resource.get("spec", {}).get("suspend", False))


def spec_of(resource: Object) -> ExperimentSpec:
    """The ExperimentSpec of a resource; raises pydantic's ValidationError naming the invalid fields."""
    fields = {key: value for key, value in resource.get("spec", {}).items() if key != "suspend"}
    return admit(ExperimentSpec, {**fields, "name": name_of(resource)})


def status_of(resource: Object) -> ExperimentStatus:
    """The ExperimentStatus part of a resource's status (a fresh one if it has none yet)."""
    status = resource.get("status") or {}
    return ExperimentStatus.model_validate({key: value for key, value in status.items() if key not in STATUS_EXTRA})


def status_extra(resource: Object) -> dict[str, Any]:
    """The status fields only the resource has (see crd.STATUS_EXTRA)."""
    status = resource.get("status") or {}
    return {key: status[key] for key in STATUS_EXTRA if key in status}


def created_at(resource: Object) -> datetime:
    stamp = resource["metadata"].get("creationTimestamp")
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else datetime.now(timezone.utc)


def to_resource(spec: ExperimentSpec, namespace: str, suspend: bool, labels: dict[str, str] | None = None) -> Object:
    """A new Experiment object for `spec` (defaults written out, so the stored spec is the whole spec)."""
    body = spec.model_dump(mode="json", exclude={"name"})
    return {
        "apiVersion": API_VERSION, "kind": KIND,
        "metadata": {"name": spec.name, "namespace": namespace, "labels": dict(labels or {})},
        "spec": {**body, "suspend": suspend},
    }


def view(resource: Object) -> Experiment:
    """The REST API's Experiment. A spec edited out of the API (kubectl) that pydantic rejects is shown
    as it is; its status says what is wrong with it."""
    try:
        spec = spec_of(resource)
    except ValidationError:
        spec = ExperimentSpec.model_construct(**{**resource.get("spec", {}), "name": name_of(resource)})
    return Experiment(name=name_of(resource), spec=spec, status=status_of(resource), created_at=created_at(resource))
