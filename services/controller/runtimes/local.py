"""The local runtime: experiments as processes on this machine, kept in a SQLite store.

A reconcile thread makes what runs match what the store wants, every `poll_s`:
it launches experiments that should run, supervises them (restarting crashed
actors and learners), reads their learner's status into the store, and notices
when they end. Stopping runs on its own thread per experiment (the learner writes
a final checkpoint). Processes outlive the controller: a controller that restarts
adopts the runs recorded in the store, or restarts them from their checkpoints
when they are gone.
"""

from __future__ import annotations

import logging
import math
import shutil
import threading
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

from pydantic import ValidationError

from seedrl.admission import admit
from seedrl.common import metrics as m
from seedrl.common.checkpoint_files import checkpoint_files, latest_checkpoint, list_checkpoints
from seedrl.common.run_folder import RunFolder
from seedrl.spec.experiment import ExperimentSpec
from seedrl.controller.models import Checkpoint, Condition, Experiment, ExperimentStatus, Phase, ScrapeTargets
from seedrl.controller.runtimes.base import Conflict, ExportPlan, Invalid, NotFound
from seedrl.controller.runtimes.bounds import LocalBounds
from seedrl.controller.runtimes.local_experiment import (
    CheckpointNotFound, LocalExperiment, LocalOptions, Outcome, resolve_checkpoint,
)
from seedrl.controller.store import AlreadyExists, Store, StoredExperiment, describe
from seedrl.v1 import learner_pb2 as pb

log = logging.getLogger(__name__)

# Runs outlive the controller (to be adopted); every learner and actor serves /metrics for scrape_targets().
OPTIONS = LocalOptions(die_with_parent=False, actor_metrics=True)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def set_condition(status: ExperimentStatus, type_: str, ok: bool | None, reason: str, message: str = "") -> None:
    """Set one condition, moving its transition time only when its status changes."""
    value = "Unknown" if ok is None else str(ok)
    for condition in status.conditions:
        if condition.type == type_:
            if condition.status != value:
                condition.last_transition_time = _now()
            condition.status, condition.reason, condition.message = value, reason, message
            return
    status.conditions.append(Condition(type=type_, status=value, reason=reason, message=message, last_transition_time=_now()))


class LocalRuntime:
    """Runs experiments as local processes; see the module docstring."""

    def __init__(self, data_dir: Path, metrics: m.Metrics, bounds: LocalBounds, max_active: int = 4, poll_s: float = 0.5):
        self.data_dir = data_dir
        self.experiments_root = data_dir / "experiments"
        self.experiments_root.mkdir(parents=True, exist_ok=True)
        self.store = Store(data_dir / "controller.db")
        self._metrics = metrics
        self._reconcile_errors = metrics(m.CONTROLLER_RECONCILE_ERRORS)  # exported from 0, so rate() works
        self._max_active = max_active
        self._bounds = bounds
        self._poll_s = poll_s
        self._runs: dict[str, LocalExperiment] = {}
        self._stoppers: dict[str, threading.Thread] = {}
        self._lock = threading.RLock()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="reconcile", daemon=True)

    # --- Process lifetime ----------------------------------------------------------------

    def open(self) -> None:
        """Adopt or mark the runs an earlier controller left, then start reconciling."""
        with self._lock:
            for record in self.store.all():
                self._recover(record)
        self._thread.start()

    def close(self) -> None:
        """Stop reconciling and stop every run gracefully; runs that should run resume at the next open()."""
        self._closed.set()
        if self._thread.is_alive():
            self._thread.join()
        with self._lock:
            for name in list(self._runs):
                if name not in self._stoppers:
                    self._begin_stop(self._record(name), None)
            stoppers = list(self._stoppers.values())
        for thread in stoppers:
            thread.join()
        with self._lock:
            for record in self.store.all():
                if record.desired == "running":
                    record.status.phase = Phase.PENDING
                    record.status.message = "the controller shut down; the run resumes from its newest checkpoint when it restarts"
                    record.run = None
                    self.store.save(record)
        self.store.close()

    def ready(self) -> bool:
        return self._thread.is_alive() and not self._closed.is_set()

    def _recover(self, record: StoredExperiment) -> None:
        """Take over what an earlier controller left of `record`; its status is recomputed, not trusted."""
        run = None
        if record.run is not None:
            try:
                run = LocalExperiment.adopt(
                    record.spec, self._folder(record.name).path, self.experiments_root, OPTIONS, record.run, self._metrics
                )
            except Exception:  # a run record (or a spec) this version cannot read: its processes stay alone
                log.exception("cannot adopt the processes recorded for %s", record.name)
            record.run = None
        if run is not None:
            self._runs[record.name] = run
            record.run = run.record()
            log.info("adopted the running processes of %s", record.name)
        if record.invalid is not None:
            self._fail_invalid(record)
            return
        if run is not None:
            if record.desired == "stopped":  # it was stopping when the last controller died
                self._begin_stop(record, None)
                return
            self._observe_checkpoint(record.status, run.folder.checkpoints)
        elif record.desired == "running":
            record.status.phase = Phase.PENDING
            record.status.message = "its processes were gone when the controller restarted; restarting from the newest checkpoint"
            self._observe_checkpoint(record.status, self._folder(record.name).checkpoints)
        elif record.status.phase in (Phase.RUNNING, Phase.STOPPING):  # it stopped while no controller watched
            self._end(record, Phase.STOPPED, "stopped on request; the controller restarted before the stop was recorded")
            return
        self.store.save(record)

    def _fail_invalid(self, record: StoredExperiment) -> None:
        """Fail `record`, whose stored spec breaks a rule (`invalid`), with a SpecValid condition naming the rule;
        processes it has are stopped first."""
        set_condition(record.status, "SpecValid", False, "InvalidSpec", str(record.invalid))
        message = f"invalid spec: {record.invalid}"
        if record.name in self._runs:
            if record.name not in self._stoppers:
                self._begin_stop(record, Outcome("Failed", message))
        else:
            self._end(record, Phase.FAILED, message)

    # --- Reconcile -----------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._closed.wait(self._poll_s):
            with self._lock:
                try:
                    records = self.store.all()
                    for record in records:
                        try:
                            self._reconcile(record)
                        except Exception:  # one bad experiment must not stop the others
                            log.exception("reconciling %s failed", record.name)
                            self._reconcile_errors.inc()
                    self._export_phase_counts()
                except Exception:  # the store itself: keep the loop alive and try again
                    log.exception("a reconcile pass failed")
                    self._reconcile_errors.inc()

    def _reconcile(self, record: StoredExperiment) -> None:
        name = record.name
        if name in self._stoppers or record.desired != "running":
            return
        if record.invalid is not None:  # its spec broke a rule since it was admitted
            self._fail_invalid(record)
            return
        run = self._runs.get(name)
        if run is None:
            run = self._launch(record)
            if run is None:
                return
        outcome = run.supervise()
        processes = run.record()
        if processes != record.run:  # record new pids at once: a controller killed now adopts them
            record.run = processes
            self.store.save(record)
        self._observe(record, run)
        if outcome is not None:
            self._begin_stop(record, outcome)
            return
        self.store.save(record)

    def _launch(self, record: StoredExperiment) -> LocalExperiment | None:
        run = LocalExperiment(record.spec, self._folder(record.name).path, self.experiments_root, OPTIONS, self._metrics)
        try:
            run.start(record.start_checkpoint)
        except Exception as error:  # a missing checkpoint, a full disk, ...: never leave processes behind
            run.stop()
            log.exception("cannot start %s", record.name)
            self._end(record, Phase.FAILED, f"cannot start: {error}")
            return None
        self._runs[record.name] = run
        status = record.status
        status.phase, status.started_at, status.finished_at = Phase.PENDING, _now(), None
        status.message = f"starting from {record.start_checkpoint}" if record.start_checkpoint else "starting"
        record.start_checkpoint = None
        return run

    def _observe(self, record: StoredExperiment, run: LocalExperiment) -> None:
        status = record.status
        learner = run.poll_status()
        if learner is not None:
            self._copy_counters(status, learner)
            if status.phase == Phase.PENDING:
                status.phase, status.message = Phase.RUNNING, "the learner is serving"
            set_condition(status, "LearnerReady", True, "Serving")
        elif status.phase == Phase.RUNNING:
            set_condition(status, "LearnerReady", False, "NotServing", "the learner is restarting")
        else:
            set_condition(status, "LearnerReady", False, "Starting")
        status.desired_actors, status.ready_actors = run.actors, run.alive_actors()
        set_condition(status, "ActorsReady", status.ready_actors == status.desired_actors,
                      "AllRunning" if status.ready_actors == status.desired_actors else "Missing",
                      f"{status.ready_actors}/{status.desired_actors} actors running")
        status.learner_restarts, status.actor_restarts = run.learner_restarts, run.actor_restarts
        self._observe_checkpoint(status, run.folder.checkpoints)

    @staticmethod
    def _copy_counters(status: ExperimentStatus, learner: pb.LearnerStatus) -> None:
        status.frames, status.fps, status.episodes = learner.frames, learner.fps, learner.episodes
        status.learner_steps, status.connected_streams = learner.learner_steps, learner.connected_streams
        status.mean_return_100 = None if math.isnan(learner.mean_return_100) else learner.mean_return_100

    @staticmethod
    def _observe_checkpoint(status: ExperimentStatus, directory: Path) -> None:
        latest = latest_checkpoint(directory)
        status.latest_checkpoint = latest.name if latest else None
        set_condition(status, "Checkpointed", latest is not None, "Saved" if latest else "NoneYet",
                      latest.name if latest else "")

    def _public(self, message: str) -> str:
        """`message` with the paths of the data dir made relative to it (responses name no server paths)."""
        for prefix in sorted({str(self.data_dir.resolve()), str(self.data_dir)}, key=len, reverse=True):
            message = message.replace(f"{prefix}/", "")
        return message

    def _end(self, record: StoredExperiment, phase: Phase | str, message: str) -> None:
        status = record.status
        status.phase, status.message, status.finished_at = Phase(phase), self._public(message), _now()
        status.ready_actors = status.connected_streams = 0
        status.fps = 0.0
        set_condition(status, "LearnerReady", False, "Stopped")
        set_condition(status, "ActorsReady", False, "Stopped", f"0/{status.desired_actors} actors running")
        self._observe_checkpoint(status, self._folder(record.name).checkpoints)
        record.desired, record.run = "stopped", None
        self.store.save(record)

    def _begin_stop(self, record: StoredExperiment, outcome: Outcome | None) -> None:
        """Stop a run on its own thread (up to a minute: the learner's final checkpoint), then record how it
        ended: `outcome` if it ended on its own, else Stopped (or, if it should still run, nothing)."""
        name = record.name
        if outcome is not None:
            record.desired = "stopped"
        record.status.phase = Phase.STOPPING
        record.status.message = self._public(outcome.message) if outcome else "stopping: actors first, then the learner"
        self.store.save(record)
        run = self._runs[name]
        thread = threading.Thread(target=self._stop_run, args=(name, run, outcome), name=f"stop-{name}", daemon=True)
        self._stoppers[name] = thread
        thread.start()

    def _stop_run(self, name: str, run: LocalExperiment, outcome: Outcome | None) -> None:
        final = None
        try:
            final = run.stop()
        except Exception:
            log.exception("stopping %s failed", name)
        finally:
            with self._lock:
                self._runs.pop(name, None)
                self._stoppers.pop(name, None)
                record = self.store.get(name)
                if record is not None:
                    if final is not None:
                        self._copy_counters(record.status, final)
                    if outcome is not None:
                        self._end(record, outcome.phase, outcome.message)
                    elif record.desired == "stopped":
                        self._end(record, Phase.STOPPED, "stopped on request; the learner wrote a final checkpoint")

    def _export_phase_counts(self) -> None:
        counts = self.phase_counts()
        for phase in Phase:
            self._metrics(m.CONTROLLER_EXPERIMENTS, phase=phase.value).set(counts.get(phase, 0))

    # --- API operations ------------------------------------------------------------------

    def _folder(self, name: str) -> RunFolder:
        return RunFolder(self.experiments_root / name)

    def _record(self, name: str) -> StoredExperiment:
        record = self.store.get(name)
        if record is None:
            raise NotFound(f"experiment {name!r} does not exist")
        return record

    def _view(self, record: StoredExperiment) -> Experiment:
        if record.invalid is not None and record.status.phase != Phase.FAILED:  # found invalid since the last pass
            record.status.phase, record.status.message = Phase.FAILED, f"invalid spec: {record.invalid}"
            set_condition(record.status, "SpecValid", False, "InvalidSpec", record.invalid)
        return Experiment.model_construct(name=record.name, spec=record.spec, status=record.status,
                                          created_at=datetime.fromtimestamp(record.created_at, timezone.utc))

    def _admitted(self, record: StoredExperiment, changes: dict[str, object] | None = None) -> ExperimentSpec:
        """The record's spec (with `changes`) admitted again, and within this controller's bounds for one
        experiment; Invalid (422) naming the rule otherwise."""
        if record.invalid is not None and not changes:
            raise Invalid("spec", f"the stored spec of {record.name!r} breaks a rule: {record.invalid}")
        try:
            spec = admit(ExperimentSpec, {**record.spec.model_dump(mode="json", warnings=False), **(changes or {})})
        except ValidationError as error:  # named after the field the request changes, else the rule's
            field = next(iter(changes), None) if changes else ".".join(map(str, error.errors()[0]["loc"]))
            raise Invalid(field or "spec", describe(error)) from None
        self._bounds.check_experiment(spec)
        return spec

    def _check_room(self, spec: ExperimentSpec) -> None:
        """Conflict (409) when running `spec` too would take the running experiments over a bound."""
        running = [record.spec for record in self.store.all() if record.name != spec.name and record.invalid is None
                   and (record.desired == "running" or record.name in self._stoppers)]
        self._bounds.check_total(running, spec)

    def _check_quota(self) -> None:
        active = sum(record.desired == "running" or record.name in self._stoppers for record in self.store.all())
        if active >= self._max_active:
            raise Conflict(f"{active} experiments are running already, the most this controller runs at once "
                           f"(--max-active-experiments {self._max_active}); stop one first")

    def _want_running(self, record: StoredExperiment, checkpoint: str | None, message: str) -> Experiment:
        self._check_quota()
        self._check_room(record.spec)
        record.desired, record.start_checkpoint = "running", checkpoint
        record.status.phase, record.status.message = Phase.PENDING, message
        self.store.save(record)
        return self._view(record)

    def create(self, spec: ExperimentSpec, start: bool) -> Experiment:
        with self._lock:
            self._bounds.check_experiment(spec)
            if spec.resume_from is not None:
                self._check_checkpoint(spec.name, spec.resume_from, "resume_from")
            if start:
                self._check_quota()
                self._check_room(spec)
            record = StoredExperiment(name=spec.name, spec=spec)
            record.status.desired_actors = spec.actors
            record.status.message = "created; not started"
            try:
                self.store.insert(record)
            except AlreadyExists:
                raise Conflict(f"experiment {spec.name!r} exists already") from None
            return self._want_running(record, None, "starting") if start else self._view(record)

    def list(self, phase: Phase | None, limit: int, offset: int) -> tuple[list[Experiment], int]:
        records, total = self.store.page(phase, limit, offset)
        return [self._view(record) for record in records], total

    def get(self, name: str) -> Experiment:
        return self._view(self._record(name))

    def start(self, name: str) -> Experiment:
        with self._lock:
            record = self._record(name)
            if record.status.phase.active and record.desired == "running" or record.status.phase == Phase.STOPPING:
                raise Conflict(f"experiment {name!r} is {record.status.phase.value} already")
            if record.status.phase != Phase.PENDING:
                raise Conflict(f"experiment {name!r} has run before ({record.status.phase.value}); "
                               "resume it to continue from a checkpoint")
            record.spec = self._admitted(record)
            return self._want_running(record, None, "starting")

    def stop(self, name: str) -> Experiment:
        with self._lock:
            record = self._record(name)
            if record.status.phase == Phase.STOPPING:
                return self._view(record)
            if record.desired != "running":
                raise Conflict(f"experiment {name!r} is not running ({record.status.phase.value})")
            record.desired = "stopped"
            if name in self._runs:
                self._begin_stop(record, None)
            else:
                self._end(record, Phase.STOPPED, "stopped before it started")
            return self._view(record)

    def resume(self, name: str, checkpoint: str | None) -> Experiment:
        with self._lock:
            record = self._record(name)
            if record.desired == "running" or record.status.phase == Phase.STOPPING:
                raise Conflict(f"experiment {name!r} is {record.status.phase.value}; stop it before resuming")
            if record.status.phase == Phase.PENDING:
                raise Conflict(f"experiment {name!r} has never run; start it")
            if checkpoint is not None:
                self._check_checkpoint(name, checkpoint, "checkpoint")
            record.spec = self._admitted(record)
            return self._want_running(record, checkpoint, f"resuming from {checkpoint or 'the newest checkpoint'}")

    def scale(self, name: str, actors: int) -> Experiment:
        with self._lock:
            record = self._record(name)
            if record.status.phase == Phase.STOPPING:
                raise Conflict(f"experiment {name!r} is stopping")
            spec = self._admitted(record, {"actors": actors})
            if record.desired == "running":
                self._check_room(spec)
            record.spec, record.invalid = spec, None
            run = self._runs.get(name)
            if run is not None:
                run.scale(actors)
                record.run = run.record()
            record.status.desired_actors = actors
            self.store.save(record)
            return self._view(record)

    def delete(self, name: str, force: bool, delete_checkpoints: bool) -> None:
        with self._lock:
            record = self._record(name)
            running = record.desired == "running" or name in self._runs
            if running and not force:
                raise Conflict(f"experiment {name!r} is {record.status.phase.value}; stop it first or delete with force=true")
            record.desired = "stopped"
            self.store.save(record)
            if name in self._runs and name not in self._stoppers:
                self._begin_stop(record, None)
            stopper = self._stoppers.get(name)
        if stopper is not None:
            stopper.join()
        with self._lock:
            leftover = self._runs.pop(name, None)
            if leftover is not None:  # started again while this delete waited
                leftover.stop()
            self.store.delete(name)
            if delete_checkpoints:
                shutil.rmtree(self._folder(name).path, ignore_errors=True)

    def _check_checkpoint(self, name: str, reference: str, field: str) -> Path:
        try:
            return resolve_checkpoint(reference, self._folder(name).checkpoints, self.experiments_root)
        except CheckpointNotFound as error:
            raise Invalid(field, str(error)) from None

    def checkpoints(self, name: str) -> list[Checkpoint]:
        self._record(name)
        return [
            Checkpoint(name=info.name, step=info.step, frames=info.frames, episodes=info.episodes,
                       mean_return_100=info.mean_return_100, time=datetime.fromtimestamp(info.time, timezone.utc),
                       size_bytes=info.size_bytes)
            for info in list_checkpoints(self._folder(name).checkpoints)
        ]

    def checkpoint_files(self, name: str, checkpoint: str) -> list[Path]:
        self._record(name)
        files = checkpoint_files(self._folder(name).checkpoints, checkpoint)
        if not files:
            raise NotFound(f"experiment {name!r} has no checkpoint {checkpoint!r}")
        return files

    def export_plan(self, name: str, checkpoint: str) -> ExportPlan:
        """How to export `checkpoint`'s policy with the learner's own config.

        Exports are named after the checkpoint and its write time, so a checkpoint number
        written again (a resume from an older checkpoint) is exported again.
        """
        files = self.checkpoint_files(name, checkpoint)
        folder = self._folder(name)
        index = next(path for path in files if path.suffix == ".index")
        try:
            written = index.stat().st_mtime_ns
        except FileNotFoundError:
            raise NotFound(f"experiment {name!r} has no checkpoint {checkpoint!r} (rotated out?)") from None
        return ExportPlan(experiment=name, checkpoint=checkpoint, checkpoints=folder.checkpoints,
                          config=folder.learner_config, out=folder.exports / f"{checkpoint}-{written}",
                          logs=folder.logs / f"export-{checkpoint}.log")

    def learner_metrics(self, name: str) -> str:
        """The learner's Prometheus exposition text."""
        with self._lock:
            record = self._record(name)
            run = self._runs.get(name)
            if run is None or run.metrics_port < 0:
                raise Conflict(f"experiment {name!r} is not running ({record.status.phase.value})")
            port = run.metrics_port
        try:
            with urllib.request.urlopen(f"http://localhost:{port}/metrics", timeout=5) as response:
                return response.read().decode()
        except OSError as error:
            raise Conflict(f"the learner of {name!r} does not serve metrics yet ({error})") from None

    def scrape_targets(self) -> list[ScrapeTargets]:
        """The /metrics endpoints of every running learner and actor, one group per process."""
        with self._lock:
            runs = list(self._runs.items())
        groups = []
        for name, run in runs:
            endpoints = [("learner", run.metrics_port)] if run.metrics_port >= 0 else []
            endpoints += [("actor", port) for port in run.actor_metrics_ports()]
            groups += [
                ScrapeTargets(targets=[f"127.0.0.1:{port}"], labels={"experiment": name, "role": role})
                for role, port in endpoints
            ]
        return groups

    def phase_counts(self) -> dict[Phase, int]:
        counts: dict[Phase, int] = {}
        for record in self.store.all():
            counts[record.status.phase] = counts.get(record.status.phase, 0) + 1
        return counts
