"""One level-triggered reconcile pass over one Experiment: make the cluster match it, write what is seen.

Running (`spec.suspend` false): the objects of `manifests.experiment_objects` are applied
(server-side apply, so a pass is idempotent), the learner is asked for its counters, and
pods that crash-loop or are refused end the run as Failed; a learner that reached
`total_frames` ends it as Succeeded. A run that ends on its own sets `spec.suspend`, so a
resume is the same act for every ended run.

Stopping (`spec.suspend` true): actors go to 0 first; once no actor pod is left the learner's
counters are read a last time and it goes to 0 (SIGTERM: it writes a final checkpoint within
its grace period); once its pod is gone the phase is Stopped (or stays Succeeded/Failed).
Nothing here waits: each pass does the next step that the observed state allows.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from pydantic import ValidationError

from seedrl.common.defaults import ACTOR_REFUSED_EXIT_CODE
from seedrl.controller.models import ExperimentStatus, Phase
from seedrl.controller.runtimes.kubernetes import manifests as mf
from seedrl.controller.runtimes.kubernetes.api import ClusterApi, Object
from seedrl.controller.runtimes.kubernetes.options import KubernetesOptions
from seedrl.controller.runtimes.kubernetes.probe import LearnerProbe
from seedrl.controller.runtimes.kubernetes.resource import (
    RESTORE_ANNOTATION, name_of, spec_of, status_extra, status_of, suspended,
)
from seedrl.controller.runtimes.local import set_condition
from seedrl.controller.runtimes.local_experiment import LEARNER_MAX_RESTARTS
from seedrl.v1 import learner_pb2 as pb

log = logging.getLogger(__name__)

# Waiting reasons that leave a pod unable to start until someone fixes something.
STUCK_REASONS = frozenset({"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError",
                           "CreateContainerError"})


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Pods:
    """The experiment's pods, by component."""

    learner: list[Object]
    actors: list[Object]  # actors and the evaluator

    @classmethod
    def of(cls, pods: list[Object]) -> "Pods":
        def component(pod: Object) -> str:
            return pod["metadata"].get("labels", {}).get(mf.COMPONENT_LABEL, "")

        return cls(learner=[pod for pod in pods if component(pod) == "learner"],
                   actors=[pod for pod in pods if component(pod) in ("actor", "evaluator")])


def _containers(pod: Object) -> list[Object]:
    return pod.get("status", {}).get("containerStatuses", [])


def _restarts(pods: list[Object]) -> int:
    return sum(container.get("restartCount", 0) for pod in pods for container in _containers(pod))


def _last_exit(container: Object) -> Object | None:
    return container.get("lastState", {}).get("terminated")


def _pod_problem(pod: Object) -> str | None:
    """Why a pod does not run, if it is stuck (unschedulable, image missing, ...)."""
    for condition in pod.get("status", {}).get("conditions", []):
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
            return f"pod {pod['metadata']['name']} cannot be scheduled: {condition.get('message', condition.get('reason'))}"
    for container in _containers(pod):
        waiting = container.get("state", {}).get("waiting") or {}
        if waiting.get("reason") in STUCK_REASONS:
            return f"pod {pod['metadata']['name']}: {waiting['reason']}: {waiting.get('message', '')}".rstrip(": ")
    return None


def copy_counters(status: ExperimentStatus, learner: pb.LearnerStatus) -> None:
    status.frames, status.fps, status.episodes = learner.frames, learner.fps, learner.episodes
    status.learner_steps, status.connected_streams = learner.learner_steps, learner.connected_streams
    status.mean_return_100 = None if math.isnan(learner.mean_return_100) else learner.mean_return_100
    if learner.last_checkpoint_step > 0:
        status.latest_checkpoint = f"ckpt-{learner.last_checkpoint_step}"


class Reconciler:
    """Reconciles Experiments in `api`'s namespace; see the module docstring."""

    def __init__(self, api: ClusterApi, options: KubernetesOptions, probe: LearnerProbe, resync_s: float = 60.0):
        self.api = api
        self.options = options
        self.probe = probe
        self.resync_s = resync_s
        self._applied: dict[tuple[str, str], tuple[str, float]] = {}  # (kind, name) -> (manifest, when)

    def reconcile(self, resource: Object) -> None:
        if resource["metadata"].get("deletionTimestamp"):
            return
        name = name_of(resource)
        status, extra = status_of(resource), status_extra(resource)
        before = (status.model_dump(mode="json"), dict(extra))
        pods = Pods.of(self.api.list("Pod", f"{mf.EXPERIMENT_LABEL}={name}"))
        try:
            spec = spec_of(resource)
        except ValidationError as error:
            fields = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
            self._stop(resource, status, extra, pods)
            status.phase, status.message = Phase.FAILED, f"invalid spec: {fields}"
        else:
            if suspended(resource):
                self._stop(resource, status, extra, pods)
            else:
                self._run(resource, spec, status, extra, pods)
        extra["actor_selector"] = mf.selector_string(name, "actor")
        extra["observed_generation"] = resource["metadata"].get("generation", 0)
        if (status.model_dump(mode="json"), extra) != before:
            removed = {key: None for key in before[1] if key not in extra}
            self.api.merge_patch("Experiment", name, {"status": {**status.model_dump(mode="json"), **extra, **removed}},
                                 "status")

    # --- Running -------------------------------------------------------------------------

    def _run(self, resource: Object, spec: Any, status: ExperimentStatus, extra: dict[str, Any], pods: Pods) -> None:
        name = spec.name
        learner = self.api.get("StatefulSet", mf.learner_name(name))
        if learner is None or learner["spec"].get("replicas", 0) == 0:  # not running yet: this pass starts it
            self._begin(resource, spec, status, extra)
        owner = mf.Owner(name, resource["metadata"]["uid"], self.api.namespace)
        for manifest in mf.experiment_objects(spec, owner, self.options, True, extra.get("restore_from")):
            self._apply(manifest)
        actors = self.api.get("Deployment", mf.actors_name(name)) or {}
        status.desired_actors = spec.actors
        status.ready_actors = actors.get("status", {}).get("readyReplicas", 0)
        status.learner_restarts, status.actor_restarts = _restarts(pods.learner), _restarts(pods.actors)
        set_condition(status, "ActorsReady", status.ready_actors == spec.actors,
                      "AllRunning" if status.ready_actors == spec.actors else "Missing",
                      f"{status.ready_actors}/{spec.actors} actors running")
        failure = self._failure(pods)
        if failure is not None:
            self._end(name, status, Phase.FAILED, failure)
            return
        serving = self.probe.status(name)
        if serving is not None:
            copy_counters(status, serving)
            set_condition(status, "LearnerReady", True, "Serving")
            extra.pop("restore_from", None)  # restored: a restart of this learner takes its newest checkpoint
            if status.phase == Phase.PENDING:
                status.phase, status.message = Phase.RUNNING, "the learner is serving"
            if serving.done:
                self._end(name, status, Phase.SUCCEEDED, f"reached total_frames ({serving.frames:,} frames)")
                return
        elif self._learner_completed(pods):
            self._end(name, status, Phase.SUCCEEDED, f"reached total_frames ({status.frames:,} frames)")
            return
        else:
            set_condition(status, "LearnerReady", False, "NotServing" if status.phase == Phase.RUNNING else "Starting")
            problem = next(filter(None, map(_pod_problem, pods.learner + pods.actors)), None)
            if problem is not None:
                status.message = problem
        set_condition(status, "Checkpointed", status.latest_checkpoint is not None,
                      "Saved" if status.latest_checkpoint else "NoneYet", status.latest_checkpoint or "")

    def _apply(self, manifest: Object) -> None:
        """Apply `manifest` if it changed since it was last applied, or `resync_s` ago (to undo edits)."""
        key = (manifest["kind"], manifest["metadata"]["name"])
        digest = json.dumps(manifest, sort_keys=True)
        applied = self._applied.get(key)
        if applied is None or applied[0] != digest or time.monotonic() - applied[1] > self.resync_s:
            self.api.apply(manifest)
            self._applied[key] = (digest, time.monotonic())

    def _begin(self, resource: Object, spec: Any, status: ExperimentStatus, extra: dict[str, Any]) -> None:
        """A (re)start: pick the checkpoint to restore, consume the resume request."""
        requested = resource["metadata"].get("annotations", {}).get(RESTORE_ANNOTATION)
        first = status.started_at is None
        reference = requested or (spec.resume_from if first else None)
        extra.pop("restore_from", None)
        if reference:
            extra["restore_from"] = mf.checkpoint_path(reference, spec.name)
        if requested:
            self.api.merge_patch("Experiment", spec.name, {"metadata": {"annotations": {RESTORE_ANNOTATION: None}}})
        status.phase, status.started_at, status.finished_at = Phase.PENDING, _now(), None
        status.message = "starting" if first and not reference else f"resuming from {reference or 'the newest checkpoint'}"

    def _failure(self, pods: Pods) -> str | None:
        """Why the run cannot go on: a crash-looping learner, or an actor the learner refused."""
        for pod in pods.actors:
            for container in _containers(pod):
                last = _last_exit(container)
                if last and last.get("exitCode") == ACTOR_REFUSED_EXIT_CODE:
                    return (f"{pod['metadata']['name']} was refused by the learner "
                            f"(kubectl logs {pod['metadata']['name']} --previous)")
        for pod in pods.learner:
            for container in _containers(pod):
                last = _last_exit(container) or {}
                waiting = container.get("state", {}).get("waiting") or {}
                if waiting.get("reason") == "CrashLoopBackOff" and container.get("restartCount", 0) >= LEARNER_MAX_RESTARTS:
                    return (f"the learner exited {container['restartCount']} times (last exit code "
                            f"{last.get('exitCode')}, {last.get('reason', 'unknown')}); "
                            f"see kubectl logs {pod['metadata']['name']} --previous")
        return None

    @staticmethod
    def _learner_completed(pods: Pods) -> bool:
        """The learner process exited 0 on its own (it does so only at total_frames)."""
        return any((_last_exit(container) or {}).get("exitCode") == 0
                   for pod in pods.learner for container in _containers(pod))

    def _end(self, name: str, status: ExperimentStatus, phase: Phase, message: str) -> None:
        """The run ended on its own: record how, and stop it (as a stop request would)."""
        status.phase, status.message, status.finished_at = phase, message, _now()
        self.api.merge_patch("Experiment", name, {"spec": {"suspend": True}})

    # --- Stopping ------------------------------------------------------------------------

    def _stop(self, resource: Object, status: ExperimentStatus, extra: dict[str, Any], pods: Pods) -> None:
        name = name_of(resource)
        ended = status.phase in (Phase.SUCCEEDED, Phase.FAILED)
        never_started = status.phase == Phase.PENDING and status.started_at is None
        for kind, workload in (("Deployment", mf.actors_name(name)), ("Deployment", mf.evaluator_name(name))):
            self._scale_to_zero(kind, workload)
        if pods.actors:
            if not ended:
                status.phase, status.message = Phase.STOPPING, "stopping: actors first, then the learner"
            return
        learner = self.api.get("StatefulSet", mf.learner_name(name))
        if learner is not None and learner["spec"].get("replicas", 0) > 0:
            final = self.probe.status(name)  # the last counters, before the learner goes
            if final is not None:
                copy_counters(status, final)
            self._scale_to_zero("StatefulSet", mf.learner_name(name))
        if pods.learner:
            if not ended:
                status.phase = Phase.STOPPING
                status.message = "stopping: the learner is writing its final checkpoint"
            return
        self.probe.forget(name)
        if not ended and not never_started:
            status.phase, status.finished_at = Phase.STOPPED, status.finished_at or _now()
            status.message = "stopped on request; the learner wrote a final checkpoint"
        if never_started:
            status.message = status.message or "created; not started"
        status.ready_actors = status.connected_streams = 0
        status.fps = 0.0
        if not never_started:
            extra.pop("restore_from", None)
        if status.started_at is not None:
            set_condition(status, "LearnerReady", False, "Stopped")
            set_condition(status, "ActorsReady", False, "Stopped", f"0/{status.desired_actors} actors running")

    def _scale_to_zero(self, kind: str, name: str) -> None:
        workload = self.api.get(kind, name)
        if workload is not None and workload["spec"].get("replicas", 0) > 0:
            self.api.merge_patch(kind, name, {"spec": {"replicas": 0}})
        self._applied.pop((kind, name), None)
