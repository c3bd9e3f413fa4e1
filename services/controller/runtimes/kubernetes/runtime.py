"""The Kubernetes runtime: the REST API's operations as changes to Experiment objects, and a reconcile loop.

All state lives in the cluster (the Experiment objects and what they own), so a controller
that restarts, or a second replica that takes over, loses nothing. The REST API and `kubectl`
are two doors to the same objects: `kubectl apply -f experiment.yaml` starts a run as
`POST /experiments?start=true` does, `kubectl scale experiment NAME --replicas N` scales it.

Several replicas may run: every one serves the REST API (its writes are changes to Experiment
objects), and only the holder of the leader Lease (`leader.LeaseElector`) reconciles.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import urllib.request
import uuid
from datetime import datetime, timezone
from pathlib import Path

from pydantic import ValidationError

from seedrl.admission import admit
from seedrl.common import metrics as m
from seedrl.common.checkpoint_files import checkpoint_files, list_checkpoints
from seedrl.spec.experiment import ExperimentSpec
from seedrl.controller.models import Checkpoint, Experiment, Phase, ScrapeTargets
from seedrl.controller.runtimes.base import Conflict, ExportPlan, Invalid, NotFound
from seedrl.controller.store import describe
from seedrl.controller.runtimes.kubernetes import manifests as mf
from seedrl.controller.runtimes.kubernetes.api import AlreadyExistsError, ClusterApi, KubeApi, NotFoundError, Object
from seedrl.controller.runtimes.kubernetes.leader import LeaseElector
from seedrl.controller.runtimes.kubernetes.options import KubernetesOptions
from seedrl.controller.runtimes.kubernetes.probe import GrpcLearnerProbe, LearnerProbe
from seedrl.controller.runtimes.kubernetes.reconcile import Clock, Reconciler, start_message
from seedrl.controller.runtimes.kubernetes.resource import (
    RESTORE_ANNOTATION, created_at, name_of, spec_of, status_of, suspended, to_resource, view,
)

log = logging.getLogger(__name__)

# /readyz fails when no pass (a follower: no Lease read) has reached the API server for this long.
STALE_AFTER_S = 60.0


def replica_identity() -> str:
    """This replica's name in the Lease: its pod name (the chart sets POD_NAME), else host and a random suffix."""
    return os.environ.get("POD_NAME") or f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"


class KubernetesRuntime:
    """Experiments as Experiment objects in one namespace; see the module docstring.

    `checkpoints_dir`, when set, is where this process sees the learners' storage (the chart
    mounts the GCS bucket there read-only): the checkpoint endpoints read it. A learner's
    PersistentVolume is mounted by its pod alone, so with `pvc` storage they answer 409.
    """

    def __init__(self, api: ClusterApi, options: KubernetesOptions, metrics: m.Metrics, probe: LearnerProbe,
                 max_active: int = 4, poll_s: float = 2.0, checkpoints_dir: Path | None = None,
                 elector: LeaseElector | None = None, clock: Clock | None = None):
        self.api = api
        self.options = options
        self.reconciler = Reconciler(api, options, probe, **({"clock": clock} if clock else {}))
        self.elector = elector
        self._metrics = metrics
        self._reconcile_errors = metrics(m.CONTROLLER_RECONCILE_ERRORS)
        self._max_active = max_active
        self._poll_s = poll_s
        self._checkpoints_dir = checkpoints_dir
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._last_pass = 0.0
        self._leading = False
        self._leading_since = 0.0  # when this replica began its first pass as the leader
        self._thread = threading.Thread(target=self._loop, name="reconcile", daemon=True)
        self._election = threading.Thread(target=lambda: elector.run(self._closed), name="leader-election",
                                          daemon=True) if elector else None

    @classmethod
    def connect(cls, options: KubernetesOptions, metrics: m.Metrics, max_active: int, poll_s: float,
                checkpoints_dir: Path | None) -> "KubernetesRuntime":
        """A runtime on the cluster this process runs in (else the local kubeconfig's)."""
        namespace = options.resolved_namespace()
        probe = GrpcLearnerProbe(
            lambda experiment: f"{mf.learner_host(experiment, namespace, options)}:{options.learner_port}",
            options.poll_status_timeout_s,
        )
        api = KubeApi(namespace)
        elector = LeaseElector(api, options.leader_election, replica_identity()) if options.leader_election.enabled else None
        return cls(api, options, metrics, probe, max_active, poll_s, checkpoints_dir, elector)

    # --- Process lifetime ----------------------------------------------------------------

    def open(self) -> None:
        if self._election is not None:
            self._election.start()
        self._thread.start()

    def close(self) -> None:
        """Stop reconciling and give up the Lease; the experiments run on (their state is in the cluster)."""
        self._closed.set()
        for thread in (self._thread, self._election):
            if thread is not None and thread.is_alive():
                thread.join()

    def ready(self) -> bool:
        """Reconciling (the leader: a pass completed, or its first since taking over begun, within
        STALE_AFTER_S), or able to take over (a follower that reads the Lease)."""
        if not self._thread.is_alive():
            return False
        now = time.monotonic()
        if self.elector is None:
            return now - self._last_pass < STALE_AFTER_S
        if self._leading:
            return now - max(self._last_pass, self._leading_since) < STALE_AFTER_S
        return now - self.elector.last_contact < STALE_AFTER_S  # a follower, or a leader whose first pass is next

    def leads(self) -> bool:
        """This replica reconciles now (always, without leader election)."""
        return self.elector is None or self.elector.is_leader()

    def _loop(self) -> None:
        while not self._closed.is_set():
            if self.leads():
                self.reconcile_all()
            self._closed.wait(self._poll_s)

    def reconcile_all(self) -> None:
        """One pass over every Experiment; errors are counted and retried at the next pass. A replica that
        stops leading stops between experiments."""
        if self.leads() and not self._leading:
            self.reconciler.forget_applied()  # another replica may have changed things meanwhile
            self._leading_since = time.monotonic()
        self._leading = self.leads()
        try:
            resources = self.api.list("Experiment")
        except Exception:
            log.exception("listing experiments failed")
            self._reconcile_errors.inc()
            return
        for resource in resources:
            if not self.leads():
                self._leading = False
                return
            try:
                self.reconciler.reconcile(resource)
            except Exception:  # one bad experiment must not stop the others
                log.exception("reconciling %s failed", name_of(resource))
                self._reconcile_errors.inc()
        self._last_pass = time.monotonic()
        counts = self._counts(resources)
        for phase in Phase:
            self._metrics(m.CONTROLLER_EXPERIMENTS, phase=phase.value).set(counts.get(phase, 0))

    # --- Reading -------------------------------------------------------------------------

    def _resource(self, name: str) -> Object:
        resource = self.api.get("Experiment", name)
        if resource is None:
            raise NotFound(f"experiment {name!r} does not exist")
        return resource

    def _resources(self) -> list[Object]:
        return sorted(self.api.list("Experiment"), key=lambda resource: (created_at(resource), name_of(resource)))

    @staticmethod
    def _counts(resources: list[Object]) -> dict[Phase, int]:
        counts: dict[Phase, int] = {}
        for resource in resources:
            phase = status_of(resource).phase
            counts[phase] = counts.get(phase, 0) + 1
        return counts

    def list(self, phase: Phase | None, limit: int, offset: int) -> tuple[list[Experiment], int]:
        resources = [r for r in self._resources() if phase is None or status_of(r).phase == phase]
        return [view(resource) for resource in resources[offset:offset + limit]], len(resources)

    def get(self, name: str) -> Experiment:
        return view(self._resource(name))

    def phase_counts(self) -> dict[Phase, int]:
        return self._counts(self.api.list("Experiment"))

    # --- Lifecycle -----------------------------------------------------------------------

    @staticmethod
    def _running(resource: Object) -> bool:
        return not suspended(resource) or status_of(resource).phase == Phase.STOPPING

    def _check_quota(self) -> None:
        active = sum(self._running(resource) for resource in self.api.list("Experiment"))
        if active >= self._max_active:
            raise Conflict(f"{active} experiments are running already, the most this controller runs at once "
                           f"(--max-active-experiments {self._max_active}); stop one first")

    def _check_checkpoint(self, name: str, reference: str, field: str) -> None:
        """Refuse a checkpoint the learner could not find (as far as this process can see its storage)."""
        other, _, checkpoint = reference.rpartition("/")
        if other and other != name and self.options.storage.kind != "gcs":
            raise Invalid(field, "restoring another experiment's checkpoint needs storage.kind gcs "
                                 "(each learner's PersistentVolume is its own)")
        if self._checkpoints_dir is not None and not checkpoint_files(self._checkpoints_of(other or name), checkpoint):
            raise Invalid(field, f"no checkpoint {reference!r}")

    def _checkpoints_of(self, name: str) -> Path:
        assert self._checkpoints_dir is not None
        return self._checkpoints_dir / "experiments" / name / "checkpoints"

    @staticmethod
    def _check_spec(resource: Object) -> None:
        """Invalid (422) naming the rule when the stored spec breaks one: such an experiment cannot run."""
        invalid = spec_of(resource)[1]
        if invalid is not None:
            raise Invalid("spec", f"the stored spec of {name_of(resource)!r} breaks a rule: {invalid}")

    def _patch(self, name: str, patch: Object) -> Object:
        try:
            return self.api.merge_patch("Experiment", name, patch)
        except NotFoundError:
            raise NotFound(f"experiment {name!r} does not exist") from None

    def _set_status(self, resource: Object, phase: Phase, message: str) -> Object:
        """Write the phase and message only, so counters a reconcile pass wrote meanwhile stay."""
        return self.api.merge_patch("Experiment", name_of(resource), {"status": {"phase": phase.value, "message": message}},
                                    "status")

    def create(self, spec: ExperimentSpec, start: bool) -> Experiment:
        with self._lock:
            if spec.resume_from is not None:
                self._check_checkpoint(spec.name, spec.resume_from, "resume_from")
            if start:
                self._check_quota()
            try:
                resource = self.api.create(to_resource(spec, self.api.namespace, suspend=not start, labels=self.options.labels))
            except AlreadyExistsError:
                raise Conflict(f"experiment {spec.name!r} exists already") from None
            status = status_of(resource)
            status.desired_actors = spec.actors
            status.message = "starting" if start else "created; not started"
            resource = self.api.merge_patch("Experiment", spec.name, {"status": status.model_dump(mode="json")}, "status")
            return view(resource)

    def start(self, name: str) -> Experiment:
        with self._lock:
            resource = self._resource(name)
            status = status_of(resource)
            if self._running(resource):
                raise Conflict(f"experiment {name!r} is {status.phase.value} already")
            if status.phase != Phase.PENDING or status.started_at is not None:
                raise Conflict(f"experiment {name!r} has run before ({status.phase.value}); "
                               "resume it to continue from a checkpoint")
            self._check_spec(resource)
            self._check_quota()
            self._patch(name, {"spec": {"suspend": False}})
            return view(self._set_status(resource, Phase.PENDING, "starting"))

    def stop(self, name: str) -> Experiment:
        with self._lock:
            resource = self._resource(name)
            status = status_of(resource)
            if status.phase == Phase.STOPPING:
                return view(resource)
            if suspended(resource):
                raise Conflict(f"experiment {name!r} is not running ({status.phase.value})")
            self._patch(name, {"spec": {"suspend": True}})
            return view(self._set_status(resource, Phase.STOPPING, "stopping: actors first, then the learner"))

    def resume(self, name: str, checkpoint: str | None) -> Experiment:
        with self._lock:
            resource = self._resource(name)
            status = status_of(resource)
            if self._running(resource):
                raise Conflict(f"experiment {name!r} is {status.phase.value}; stop it before resuming")
            if status.phase == Phase.PENDING:
                raise Conflict(f"experiment {name!r} has never run; start it")
            self._check_spec(resource)
            if checkpoint is not None:
                self._check_checkpoint(name, checkpoint, "checkpoint")
            self._check_quota()
            self._patch(name, {"metadata": {"annotations": {RESTORE_ANNOTATION: checkpoint}},
                               "spec": {"suspend": False}})
            return view(self._set_status(resource, Phase.PENDING, start_message(checkpoint, status.latest_checkpoint, "resuming")))

    def scale(self, name: str, actors: int) -> Experiment:
        with self._lock:
            resource = self._resource(name)
            if status_of(resource).phase == Phase.STOPPING:
                raise Conflict(f"experiment {name!r} is stopping")
            experiment = view(resource)
            try:
                admit(ExperimentSpec, {**experiment.spec.model_dump(mode="json"), "actors": actors})
            except ValidationError as error:
                raise Invalid("actors", describe(error)) from None
            resource = self._patch(name, {"spec": {"actors": actors}})
            status = status_of(resource)
            status.desired_actors = actors
            return view(self.api.merge_patch("Experiment", name, {"status": {"desired_actors": actors}}, "status"))

    def delete(self, name: str, force: bool, delete_checkpoints: bool) -> None:
        """Delete the Experiment; Kubernetes deletes what it owns (pods get SIGTERM: the learner still
        writes a final checkpoint). Its checkpoints stay unless `delete_checkpoints`."""
        with self._lock:
            resource = self._resource(name)
            if self._running(resource) and not force:
                raise Conflict(f"experiment {name!r} is {status_of(resource).phase.value}; "
                               "stop it first or delete with force=true")
            if delete_checkpoints and self.options.storage.kind == "gcs":
                raise Invalid("delete_checkpoints", f"checkpoints are in gs://{self.options.storage.bucket}/experiments/{name}; "
                                                    "delete them with `gcloud storage rm -r`")
            self.api.delete("Experiment", name)
            self.reconciler.probe.forget(name)
            if delete_checkpoints:
                self.api.delete("PersistentVolumeClaim", mf.claim_name(name))

    # --- Checkpoints and metrics ---------------------------------------------------------

    def _checkpoint_dir(self, name: str) -> Path:
        self._resource(name)
        if self._checkpoints_dir is None:
            raise Conflict(f"the checkpoints of {name!r} are on its learner's PersistentVolume, which only the "
                           f"learner mounts: kubectl cp {mf.learner_name(name)}-0:{mf.logdir(name)}/checkpoints ./ "
                           "(the API serves them with storage.kind gcs)")
        return self._checkpoints_of(name)

    def checkpoints(self, name: str) -> list[Checkpoint]:
        return [
            Checkpoint(name=info.name, step=info.step, frames=info.frames, episodes=info.episodes,
                       mean_return_100=info.mean_return_100, time=datetime.fromtimestamp(info.time, timezone.utc),
                       size_bytes=info.size_bytes)
            for info in list_checkpoints(self._checkpoint_dir(name))
        ]

    def checkpoint_files(self, name: str, checkpoint: str) -> list[Path]:
        files = checkpoint_files(self._checkpoint_dir(name), checkpoint)
        if not files:
            raise NotFound(f"experiment {name!r} has no checkpoint {checkpoint!r}")
        return files

    def export_plan(self, name: str, checkpoint: str) -> ExportPlan:
        self.checkpoint_files(name, checkpoint)
        raise Conflict("the controller image has no TensorFlow: download the checkpoint and run "
                       "`seedrl export` where the learner extra is installed")

    def learner_metrics(self, name: str) -> str:
        resource = self._resource(name)
        status = status_of(resource)
        if status.phase != Phase.RUNNING:
            raise Conflict(f"experiment {name!r} is not running ({status.phase.value})")
        url = f"http://{mf.learner_host(name, self.api.namespace, self.options)}:{self.options.metrics_port}/metrics"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read().decode()
        except OSError as error:
            raise Conflict(f"the learner of {name!r} does not serve metrics yet ({error})") from None

    def scrape_targets(self) -> list[ScrapeTargets]:
        """The /metrics endpoints of every running learner and actor pod, one group per pod."""
        groups = []
        for pod in self.api.list("Pod", f"{mf.EXPERIMENT_LABEL},{mf.COMPONENT_LABEL}"):
            labels, ip = pod["metadata"].get("labels", {}), pod.get("status", {}).get("podIP")
            if ip and pod.get("status", {}).get("phase") == "Running":
                role = "learner" if labels[mf.COMPONENT_LABEL] == "learner" else "actor"
                groups.append(ScrapeTargets(targets=[f"{ip}:{self.options.metrics_port}"],
                                            labels={"experiment": labels[mf.EXPERIMENT_LABEL], "role": role}))
        return groups
