"""One level-triggered reconcile pass over one Experiment: make the cluster match it, write what is seen.

Running (`spec.suspend` false): the objects of `manifests.experiment_objects` are applied
(server-side apply, so a pass is idempotent), the learner is asked for its counters, and
pods that crash-loop or are refused end the run as Failed; a learner that reached
`total_frames` ends it as Succeeded. A run that ends on its own, or whose spec is invalid, sets
`spec.suspend`, so it no longer counts as running and a resume is the same act for every ended run.
A run is recorded on its learner StatefulSet (`manifests.Run`), so the status can always be
rebuilt from what was applied.

Stopping (`spec.suspend` true): actors go to 0 first; once no actor pod is left the learner's
counters are read a last time and it goes to 0 (SIGTERM: it writes a final checkpoint within
its grace period); once its pod is gone the phase is Stopped (or stays Succeeded/Failed).
A pod still terminating `stop_timeout_s` after its grace period ended (its node is likely lost)
is not waited for if it is an actor, and is reported if it is the learner.

Every pass recomputes the message and the conditions from what it observes: Synced (the pass's
API calls went through; else the server's reason and message), LearnerReady and ActorsReady (a
pod that cannot run is named with its reason: Unschedulable and the scheduler's message,
ErrImagePull, CrashLoopBackOff, ...), Checkpointed, and Progressing (False past a start or stop
deadline). The status is written only when it changed, conditionally on the resourceVersion the
pass read, so a pass never overwrites what the REST API wrote meanwhile; changes to the spec
(`suspend`) and metadata follow the status. Nothing here waits: each pass does the next step
that the observed state allows.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, NamedTuple

from seedrl.common.defaults import ACTOR_REFUSED_EXIT_CODE
from seedrl.spec.experiment import ExperimentSpec
from seedrl.controller.models import ExperimentStatus, Phase
from seedrl.controller.runtimes.kubernetes import manifests as mf
from seedrl.controller.runtimes.kubernetes.api import AlreadyExistsError, ApiError, ClusterApi, ConflictError, Object
from seedrl.controller.runtimes.kubernetes.options import KubernetesOptions
from seedrl.controller.runtimes.kubernetes.probe import LearnerProbe
from seedrl.controller.runtimes.kubernetes.resource import (
    RESTORE_ANNOTATION, defaults_to_write_back, fail_invalid, name_of, spec_of, status_extra, status_of, suspended,
)
from seedrl.controller.runtimes.local import set_condition
from seedrl.controller.runtimes.local_experiment import LEARNER_MAX_RESTARTS
from seedrl.v1 import learner_pb2 as pb

log = logging.getLogger(__name__)

# Waiting reasons that leave a container unable to start until something changes.
STUCK_REASONS = frozenset({"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError",
                           "CreateContainerError", "CrashLoopBackOff"})
# How much of a crashed learner's termination message (why it failed) the status message quotes.
TERMINATION_MESSAGE_CHARS = 300
# What StatefulSet validation answers when a change touches a field that cannot change in place.
IMMUTABLE_CAUSE = "FieldValueForbidden"
Clock = Callable[[], datetime]


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


class Problem(NamedTuple):
    """Why a pod does not run: a condition reason and a message naming the pod."""

    reason: str
    message: str


def _containers(pod: Object) -> list[Object]:
    return pod.get("status", {}).get("containerStatuses", [])


def _restarts(pods: list[Object]) -> int:
    return sum(container.get("restartCount", 0) for pod in pods for container in _containers(pod))


def _last_exit(container: Object) -> Object | None:
    return container.get("lastState", {}).get("terminated")


def pod_problem(pod: Object) -> Problem | None:
    """Why a pod does not run, if it is stuck (unschedulable, image missing, crash-looping, ...)."""
    name = pod["metadata"]["name"]
    for condition in pod.get("status", {}).get("conditions", []):
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
            reason = condition.get("reason") or "Unschedulable"
            return Problem(reason, f"pod {name} cannot be scheduled: {condition.get('message', reason)}")
    for container in _containers(pod):
        waiting = container.get("state", {}).get("waiting") or {}
        if waiting.get("reason") in STUCK_REASONS:
            return Problem(waiting["reason"], f"pod {name}: {waiting['reason']}: {waiting.get('message', '')}".rstrip(": "))
    return None


def _first_problem(pods: list[Object]) -> Problem | None:
    return next(filter(None, map(pod_problem, pods)), None)


def _overdue(pod: Object, now: datetime, allowance_s: float) -> bool:
    """The pod was deleted and is still there `allowance_s` after its grace period ended."""
    deleted = pod["metadata"].get("deletionTimestamp")
    return bool(deleted) and now > _parse(deleted) + timedelta(seconds=allowance_s)


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


def copy_counters(status: ExperimentStatus, learner: pb.LearnerStatus) -> None:
    status.frames, status.fps, status.episodes = learner.frames, learner.fps, learner.episodes
    status.learner_steps, status.connected_streams = learner.learner_steps, learner.connected_streams
    status.mean_return_100 = None if math.isnan(learner.mean_return_100) else learner.mean_return_100
    if learner.last_checkpoint_step > 0:
        status.latest_checkpoint = f"ckpt-{learner.last_checkpoint_step}"


def start_message(restore_from: str | None, latest_checkpoint: str | None, verb: str = "starting") -> str:
    """What a (re)start restores, as far as the controller knows: a named checkpoint, the newest one
    reported, or none."""
    if restore_from:
        return f"{verb} from checkpoint {restore_from}"
    if latest_checkpoint:
        return f"{verb} from the newest checkpoint (the last reported was {latest_checkpoint})"
    if verb == "starting":
        return verb
    return f"{verb}; no checkpoint was reported, so the learner starts afresh unless it wrote one"


def stopped_message(latest_checkpoint: str | None) -> str:
    if latest_checkpoint:
        return f"stopped on request; the newest checkpoint reported is {latest_checkpoint}"
    return "stopped on request; the learner reported no checkpoint"


@dataclass
class _Pass:
    """What one pass over one Experiment read, and what it decided to write."""

    resource: Object
    status: ExperimentStatus
    extra: dict[str, Any]
    pods: Pods
    now: datetime
    experiment_patch: Object = field(default_factory=dict)  # spec/metadata changes, written after the status
    notes: list[str] = field(default_factory=list)  # what the Synced condition should mention

    @property
    def name(self) -> str:
        return name_of(self.resource)

    def patch_experiment(self, patch: Object) -> None:
        for key, value in patch.items():
            self.experiment_patch.setdefault(key, {}).update(value)


class Reconciler:
    """Reconciles Experiments in `api`'s namespace; see the module docstring."""

    def __init__(self, api: ClusterApi, options: KubernetesOptions, probe: LearnerProbe, resync_s: float = 60.0,
                 clock: Clock = _now):
        self.api = api
        self.options = options
        self.probe = probe
        self.resync_s = resync_s
        self.clock = clock
        self._applied: dict[tuple[str, str], tuple[str, float]] = {}  # (kind, name) -> (manifest, when)
        self._deferred: dict[str, str] = {}  # learner StatefulSet -> why it was applied with its old fields

    def forget_applied(self) -> None:
        """Apply everything again at the next pass (e.g. after another replica has been reconciling)."""
        self._applied.clear()
        self._deferred.clear()

    def reconcile(self, resource: Object) -> None:
        """One pass; an API error that blocked it is written into the status (Synced), then raised."""
        if resource["metadata"].get("deletionTimestamp"):
            return
        status, extra = status_of(resource), status_extra(resource)
        before = (status.model_dump(mode="json"), dict(extra))
        current = _Pass(resource, status, extra, Pods([], []), self.clock())
        failure: ApiError | None = None
        try:
            current.pods = Pods.of(self.api.list("Pod", f"{mf.EXPERIMENT_LABEL}={current.name}"))
            self._reconcile(current)
            set_condition(status, "Synced", True, "Reconciled", "; ".join(current.notes))
        except ApiError as error:
            failure = error
            set_condition(status, "Synced", False, error.reason, str(error))
            status.message = f"blocked: {error}"
        extra["actor_selector"] = mf.selector_string(current.name, "actor")
        extra["observed_generation"] = resource["metadata"].get("generation", 0)
        written = self._write(current, before)
        if failure is not None:
            raise failure
        if written and current.experiment_patch:
            self.api.merge_patch("Experiment", current.name, current.experiment_patch)

    def _reconcile(self, current: _Pass) -> None:
        spec, invalid = spec_of(current.resource)
        if invalid is not None:
            self._invalid(current, invalid)
            return
        current.status.conditions = [c for c in current.status.conditions if c.type != "SpecValid"]
        if resolved := defaults_to_write_back(current.resource, spec):
            current.patch_experiment({"spec": resolved})
        if suspended(current.resource):
            self._stop(current)
        else:
            self._run(current, spec)

    def _write(self, current: _Pass, before: tuple[Object, dict[str, Any]]) -> bool:
        """Write the status if it changed, unless the Experiment changed since it was read (the next pass
        then starts from what is there). False if it was not written for that reason."""
        status = current.status.model_dump(mode="json")
        if (status, current.extra) == before:
            return True
        removed = {key: None for key in before[1] if key not in current.extra}
        patch = {"metadata": {"resourceVersion": current.resource["metadata"]["resourceVersion"]},
                 "status": {**status, **current.extra, **removed}}
        try:
            self.api.merge_patch("Experiment", current.name, patch, "status")
        except ConflictError:
            log.info("%s changed during the pass; the next pass starts from what is there", current.name)
            return False
        return True

    # --- Running -------------------------------------------------------------------------

    def _run(self, current: _Pass, spec: ExperimentSpec) -> None:
        status, name = current.status, spec.name
        requested = (current.resource["metadata"].get("annotations") or {}).get(RESTORE_ANNOTATION)
        learner = self.api.get("StatefulSet", mf.learner_name(name))
        run = mf.Run.of(learner)
        if run is not None and status.started_at == run.started_at and status.phase in (Phase.SUCCEEDED, Phase.FAILED):
            self._end(current, status.phase, status.message)  # this run ended, but its suspend was not written
            self._stop(current)
            return
        if run is None:  # not running: this pass starts it
            reference = requested or (spec.resume_from if status.started_at is None else None)
            run = mf.Run(current.now, mf.checkpoint_path(reference, name) if reference else None)
        if status.started_at != run.started_at:  # a run the status does not show yet
            status.phase, status.started_at, status.finished_at = Phase.PENDING, run.started_at, None
        secret = self._secret(current, spec)
        serving = self.probe.status(name, secret)
        if serving is not None and run.restore_from:
            run = replace(run, restore_from=None)  # restored: a restart of this learner takes its newest checkpoint
        self._apply_all(current, spec, run, learner, secret)
        if requested:  # consumed, now that a run restoring it is applied
            current.patch_experiment({"metadata": {"annotations": {RESTORE_ANNOTATION: None}}})
        if run.restore_from:
            current.extra["restore_from"] = run.restore_from
        else:
            current.extra.pop("restore_from", None)

        actors = self.api.get("Deployment", mf.actors_name(name)) or {}
        status.desired_actors = spec.actors
        status.ready_actors = actors.get("status", {}).get("readyReplicas", 0)
        status.learner_restarts = _restarts(current.pods.learner)
        status.actor_restarts = _restarts(current.pods.actors)
        actor_problem = _first_problem(current.pods.actors)
        self._actors_condition(status, spec.actors, actor_problem)
        failure = self._failure(current.pods)
        if failure is not None:
            self._end(current, Phase.FAILED, failure)
            return
        if serving is not None:
            copy_counters(status, serving)
            set_condition(status, "LearnerReady", True, "Serving")
            set_condition(status, "Progressing", True, "Running")
            if status.phase == Phase.PENDING:
                status.phase = Phase.RUNNING
            status.message = "the learner is serving" + (f"; {actor_problem.message}" if actor_problem else "")
            if serving.done:
                self._end(current, Phase.SUCCEEDED, f"reached total_frames ({serving.frames:,} frames)")
                return
        elif self._learner_completed(current.pods):
            self._end(current, Phase.SUCCEEDED, f"reached total_frames ({status.frames:,} frames)")
            return
        else:
            self._not_serving(current, run, _first_problem(current.pods.learner) or actor_problem)
        set_condition(status, "Checkpointed", status.latest_checkpoint is not None,
                      "Saved" if status.latest_checkpoint else "NoneYet", status.latest_checkpoint or "")

    def _not_serving(self, current: _Pass, run: mf.Run, problem: Problem | None) -> None:
        """The learner does not answer: starting (until its deadline), or no longer serving."""
        status = current.status
        starting = status.phase == Phase.PENDING
        set_condition(status, "LearnerReady", False, problem.reason if problem else ("Starting" if starting else "NotServing"),
                      problem.message if problem else "")
        if not starting:
            status.message = "the learner does not answer" + (f"; {problem.message}" if problem else "")
            return
        waited = (current.now - run.started_at).total_seconds()
        if waited > self.options.start_timeout_s:
            reason = problem.message if problem else "its pod is not ready"
            status.message = (f"the learner has not served in the {_duration(waited)} since the start at "
                              f"{run.started_at:%Y-%m-%dT%H:%M:%SZ} (start_timeout_s {self.options.start_timeout_s:.0f}): "
                              f"{reason}; stop the experiment to give up")
            set_condition(status, "Progressing", False, "StartDeadlineExceeded", status.message)
            return
        set_condition(status, "Progressing", True, "Starting",
                      f"waiting for the learner to serve since {run.started_at:%Y-%m-%dT%H:%M:%SZ}")
        restoring = mf.checkpoint_reference(run.restore_from, current.name) if run.restore_from else None
        status.message = problem.message if problem else start_message(restoring, status.latest_checkpoint)

    @staticmethod
    def _actors_condition(status: ExperimentStatus, desired: int, problem: Problem | None) -> None:
        ready = status.ready_actors >= desired
        reason = "AllRunning" if ready else (problem.reason if problem else "Missing")
        message = f"{status.ready_actors}/{desired} actors running" + (f"; {problem.message}" if problem and not ready else "")
        set_condition(status, "ActorsReady", ready, reason, message)

    def _owner(self, current: _Pass) -> mf.Owner:
        return mf.Owner(current.name, current.resource["metadata"]["uid"], self.api.namespace)

    def _secret(self, current: _Pass, spec: ExperimentSpec) -> str:
        """The experiment's secret: the one its Secret holds, else a new one in a new Secret. Created, never
        replaced, so it stays the same across stops, resumes, controller restarts and leader handovers (a
        replica that raced this one to create it makes this one take its value)."""
        existing = self.api.get("Secret", mf.secret_name(current.name))
        if existing is None:
            secret = mf.secret_value(None)
            try:
                existing = self.api.create(mf.learner_secret(spec, self._owner(current), self.options, secret))
            except AlreadyExistsError:
                existing = self.api.get("Secret", mf.secret_name(current.name))
        return mf.secret_value(existing)

    def _existing_secret(self, name: str) -> str | None:
        """The experiment's secret if its Secret exists (a learner that is running has it)."""
        existing = self.api.get("Secret", mf.secret_name(name))
        return mf.secret_value(existing) if existing is not None else None

    def _apply_all(self, current: _Pass, spec: ExperimentSpec, run: mf.Run, learner: Object | None, secret: str) -> None:
        for manifest in mf.experiment_objects(spec, self._owner(current), self.options, run, secret):
            if manifest["kind"] == "StatefulSet":
                self._apply_learner(current, manifest, learner)
            else:
                self._apply(manifest)

    def _apply_learner(self, current: _Pass, manifest: Object, learner: Object | None) -> None:
        """Apply the learner's StatefulSet. A change to the fields a StatefulSet cannot change in place
        (its volumeClaimTemplates, after a new storage size or class) recreates it when the learner is
        not running, and waits for the next start while it is (the Synced condition says so)."""
        name = manifest["metadata"]["name"]
        try:
            if self._apply(manifest):
                self._deferred.pop(name, None)
        except ApiError as error:
            if not (error.status == 422 and any(c.get("reason") == IMMUTABLE_CAUSE for c in error.causes)):
                raise
            if learner is not None and learner["spec"].get("replicas", 0) == 0:
                self.api.delete("StatefulSet", name)  # no pod, no finalizer: gone at once
                self._apply(manifest)
                self._deferred.pop(name, None)
                return
            kept = {key: learner["spec"][key] for key in ("volumeClaimTemplates", "serviceName", "podManagementPolicy",
                                                          "selector") if learner and key in learner["spec"]}
            self._apply({**manifest, "spec": {**manifest["spec"], **kept}}, key_manifest=manifest)
            self._deferred[name] = (f"{name} keeps its volumeClaimTemplates while the learner runs; the new "
                                    "storage settings apply when the experiment next starts")
        if name in self._deferred:
            current.notes.append(self._deferred[name])

    def _apply(self, manifest: Object, key_manifest: Object | None = None) -> bool:
        """Apply `manifest` if it changed since it was last applied, or `resync_s` ago (to undo edits);
        whether it did."""
        key = (manifest["kind"], manifest["metadata"]["name"])
        digest = json.dumps(key_manifest or manifest, sort_keys=True)
        applied = self._applied.get(key)
        if applied is not None and applied[0] == digest and time.monotonic() - applied[1] <= self.resync_s:
            return False
        self._applied.pop(key, None)
        self.api.apply(manifest)
        self._applied[key] = (digest, time.monotonic())
        return True

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
                    said = " ".join(last.get("message", "").split())[:TERMINATION_MESSAGE_CHARS]
                    return (f"the learner exited {container['restartCount']} times (last exit code "
                            f"{last.get('exitCode')}, {last.get('reason', 'unknown')}{': ' + said if said else ''}); "
                            f"see kubectl logs {pod['metadata']['name']} --previous")
        return None

    @staticmethod
    def _learner_completed(pods: Pods) -> bool:
        """The learner process exited 0 on its own (it does so only at total_frames)."""
        return any((_last_exit(container) or {}).get("exitCode") == 0
                   for pod in pods.learner for container in _containers(pod))

    def _end(self, current: _Pass, phase: Phase, message: str) -> None:
        """The run ended on its own: record how, and stop it (as a stop request would)."""
        current.status.phase, current.status.message = phase, message
        current.status.finished_at = current.status.finished_at or current.now
        if not suspended(current.resource):
            current.patch_experiment({"spec": {"suspend": True}})

    def _invalid(self, current: _Pass, rule: str) -> None:
        """A spec that breaks `rule` (edited with kubectl, or stored before an upgrade tightened a rule): stop
        what runs, fail with the SpecValid condition naming the rule (as the REST API's store does), suspend."""
        self._stop(current)
        fail_invalid(current.status, rule)
        self._end(current, Phase.FAILED, current.status.message)

    # --- Stopping ------------------------------------------------------------------------

    def _stop(self, current: _Pass) -> None:
        status, name, pods = current.status, current.name, current.pods
        ended = status.phase in (Phase.SUCCEEDED, Phase.FAILED)
        never_started = status.started_at is None
        allowance = self.options.stop_timeout_s
        for workload in (mf.actors_name(name), mf.evaluator_name(name)):
            self._scale_to_zero("Deployment", workload)
        lost_actors = [pod["metadata"]["name"] for pod in pods.actors if _overdue(pod, current.now, allowance)]
        if len(lost_actors) < len(pods.actors):
            self._stopping(current, ended, "stopping: actors first, then the learner")
            return
        learner = self.api.get("StatefulSet", mf.learner_name(name))
        if learner is not None and learner["spec"].get("replicas", 0) > 0:
            final = self.probe.status(name, self._existing_secret(name))  # the last counters, before the learner goes
            if final is not None:
                copy_counters(status, final)
            self._scale_to_zero("StatefulSet", mf.learner_name(name))
        if pods.learner:
            self._stopping(current, ended, "stopping: the learner is writing its final checkpoint")
            pod = pods.learner[0]
            if _overdue(pod, current.now, allowance):
                pod_name = pod["metadata"]["name"]
                stuck = (f"pod {pod_name} is still terminating {_duration(allowance)} after its grace period ended "
                         f"(node {pod['spec'].get('nodeName')} may be lost); if the node is gone, "
                         f"`kubectl delete pod {pod_name} --grace-period=0 --force` ends the stop")
                set_condition(status, "Progressing", False, "StopDeadlineExceeded", stuck)
                if not ended:
                    status.message = f"stopping: {stuck}"
            elif lost_actors:
                self._lost_actors_condition(status, lost_actors, allowance)
            return
        self.probe.forget(name)
        if not ended and not never_started:
            status.phase, status.finished_at = Phase.STOPPED, status.finished_at or current.now
            status.message = stopped_message(status.latest_checkpoint)
        elif never_started and status.phase == Phase.STOPPING:  # stopped before any pass started it
            status.phase, status.message = Phase.STOPPED, "stopped on request before it started"
        elif never_started:
            status.message = status.message or "created; not started"
        status.ready_actors = status.connected_streams = 0
        status.fps = 0.0
        current.extra.pop("restore_from", None)
        if not never_started:
            set_condition(status, "LearnerReady", False, "Stopped")
            set_condition(status, "ActorsReady", False, "Stopped", f"0/{status.desired_actors} actors running")
            if lost_actors:
                self._lost_actors_condition(status, lost_actors, allowance)
                status.message += f"; actor pods {', '.join(lost_actors)} are still terminating on unreachable nodes"
            else:
                set_condition(status, "Progressing", True, "Stopped")

    def _stopping(self, current: _Pass, ended: bool, message: str) -> None:
        if not ended:
            current.status.phase, current.status.message = Phase.STOPPING, message
        set_condition(current.status, "Progressing", True, "Stopping")

    @staticmethod
    def _lost_actors_condition(status: ExperimentStatus, pods: list[str], allowance: float) -> None:
        set_condition(status, "Progressing", False, "StopDeadlineExceeded",
                      f"actor pods {', '.join(pods)} are still terminating {_duration(allowance)} after their grace "
                      "period ended (their nodes may be lost); the stop went on without them")

    def _scale_to_zero(self, kind: str, name: str) -> None:
        workload = self.api.get(kind, name)
        if workload is not None and workload["spec"].get("replicas", 0) > 0:
            self.api.merge_patch(kind, name, {"spec": {"replicas": 0}})
        self._applied.pop((kind, name), None)
