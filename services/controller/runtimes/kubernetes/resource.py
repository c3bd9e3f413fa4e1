"""Experiment custom resources <-> the REST API's models (ExperimentSpec, ExperimentStatus, Experiment)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from seedrl.spec.experiment import ExperimentSpec
from seedrl.spec.family_defaults import RESOLVED_SECTIONS
from seedrl.controller.models import Experiment, ExperimentStatus, Phase
from seedrl.controller.runtimes.kubernetes.crd import API_VERSION, KIND, STATUS_EXTRA
from seedrl.controller.runtimes.local import set_condition
from seedrl.controller.store import read_spec

Object = dict[str, Any]

# A one-shot request, set by a resume: the checkpoint (`ckpt-N` or `other/ckpt-N`) the next start restores.
RESTORE_ANNOTATION = "seedrl.io/restore-from"


def name_of(resource: Object) -> str:
    return resource["metadata"]["name"]


def suspended(resource: Object) -> bool:
    return bool(resource.get("spec", {}).get("suspend", False))


def spec_of(resource: Object) -> tuple[ExperimentSpec, str | None]:
    """The ExperimentSpec of a resource admitted with every rule, and None; or, when it breaks a rule (a spec
    edited with kubectl, or stored before an upgrade tightened a rule), its fields unvalidated and the rules
    it breaks (`field: reason; ...`), as the REST API's store reads its rows (`store.read_spec`)."""
    fields = {key: value for key, value in resource.get("spec", {}).items() if key != "suspend"}
    return read_spec(name_of(resource), json.dumps({**fields, "name": name_of(resource)}, sort_keys=True))


def defaults_to_write_back(resource: Object, spec: ExperimentSpec) -> Object:
    """The sections of RESOLVED_SECTIONS that `resource` (an Experiment made with kubectl) leaves in part to
    its env family's and agent's defaults, as `spec` (its admitted spec) resolved them. Written into the
    Experiment, they stay what they were when it was first admitted, whatever a later controller's defaults
    are: a restarted learner never meets other hyperparameters, or a network its checkpoint does not fit.
    Empty for an Experiment made through the REST API, which writes the whole spec (`to_resource`). Fields
    resolved to null are left out: a merge patch cannot write a null, and the spec reads a missing one as null."""
    given = resource.get("spec", {})
    resolved = without_nulls(spec.model_dump(mode="json", include=set(RESOLVED_SECTIONS)))
    return {section: values for section, values in resolved.items()
            if without_nulls(given.get(section) or {}) != values}


def without_nulls(values: Object) -> Object:
    """Nested mappings without their null leaves."""
    return {key: without_nulls(value) if isinstance(value, dict) else value
            for key, value in values.items() if value is not None}


def fail_invalid(status: ExperimentStatus, rule: str) -> None:
    """Mark `status` Failed by a spec that breaks `rule`, with the SpecValid condition that names it."""
    status.phase, status.message = Phase.FAILED, f"invalid spec: {rule}"
    set_condition(status, "SpecValid", False, "InvalidSpec", rule)


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
    """The REST API's Experiment. A spec that breaks a rule is shown as it is, Failed, with the SpecValid
    condition naming the rule (at once, before a reconcile pass has written it)."""
    spec, invalid = spec_of(resource)
    status = status_of(resource)
    if invalid is not None and status.phase != Phase.FAILED:
        fail_invalid(status, invalid)
    return Experiment.model_construct(name=name_of(resource), spec=spec, status=status, created_at=created_at(resource))
