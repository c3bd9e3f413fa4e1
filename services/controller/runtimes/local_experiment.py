"""One experiment as processes on this machine: a learner and its actors, launched from an ExperimentSpec.

This is the one way seedrl launches local processes: `seedrl train` drives one of
these in the foreground, the controller's local runtime drives one per running
experiment. Supervision restarts crashed actors, and a crashed learner (which then
resumes from its newest checkpoint) until it crash-loops.

Each run folder holds the experiment's secret (`secret`, mode 0600, created at the first
start and kept): the learner requires it, the actors and the status polls present it. The
learner binds 127.0.0.1 unless `LocalOptions.host` says otherwise.
"""

from __future__ import annotations

import dataclasses
import logging
import signal
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import grpc
from google.protobuf import json_format

from seedrl.spec.actor import ActorConfig
from seedrl.spec.auth import ClientAuth
from seedrl.common import defaults, learner_channel
from seedrl.common import metrics as m
from seedrl.common.checkpoint_files import checkpoint_files, list_checkpoints
from seedrl.common.credentials import LearnerClient, ensure_secret_file, read_secret_file
from seedrl.common.files import write_json
from seedrl.common.ports import free_port
from seedrl.common.run_folder import RunFolder
from seedrl.spec.experiment import ExperimentSpec
from seedrl.controller.runtimes.process_configs import EVALUATOR, actor_config, learner_config, metrics_host
from seedrl.controller.runtimes.processes import ProcessGroup
from seedrl.v1 import learner_pb2 as pb
from seedrl.v1 import learner_pb2_grpc as pb_grpc

log = logging.getLogger(__name__)

# The learner is on this machine: actors retry often while it starts (TensorFlow takes seconds to load).
LOCAL_BACKOFF_MAX_S = 0.5
ACTOR_STOP_TIMEOUT_S = 10.0
LEARNER_STOP_TIMEOUT_S = 60.0
# A learner that crashes this many times within the window is not restarted again.
LEARNER_MAX_RESTARTS = 3
LEARNER_RESTART_WINDOW_S = 300.0
STATUS_TIMEOUT_S = 2.0


class CheckpointNotFound(LookupError):
    """A checkpoint reference names no checkpoint on disk."""


def resolve_checkpoint(reference: str, own_dir: Path, experiments_root: Path) -> Path:
    """The path (without suffix) of `ckpt-N` in `own_dir` or `other/ckpt-N` under `experiments_root`."""
    experiment, _, name = reference.rpartition("/")
    directory = RunFolder(experiments_root / experiment).checkpoints if experiment else own_dir
    if not checkpoint_files(directory, name):
        raise CheckpointNotFound(f"no checkpoint {reference!r}")
    return directory / name


@dataclass(frozen=True)
class Outcome:
    """How a run ended on its own: it reached its frame budget, or it failed."""

    phase: Literal["Succeeded", "Failed"]
    message: str


@dataclass(frozen=True)
class LocalOptions:
    """How the processes of a local run are started."""

    host: str = "127.0.0.1"  # the address the learner (and its /metrics) binds: this machine only
    port: int = 0  # learner gRPC port; 0 picks a free one
    metrics_port: int | None = None  # the learner's /metrics: None picks a free port, -1 disables
    actor_metrics: bool = False  # serve /metrics from every actor too (free ports)
    max_message_mb: float | None = None  # None keeps the processes' default
    die_with_parent: bool = True  # False: processes outlive the launcher, to be adopted
    learner_max_restarts: int = LEARNER_MAX_RESTARTS  # within LEARNER_RESTART_WINDOW_S; one more exit fails the run


def exit_cause(returncode: int | None) -> str:
    """`exit code 1`, or `killed by SIGKILL` for a process ended by a signal."""
    if returncode is not None and returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


class LocalExperiment:
    """The processes of one experiment; all methods are called from one supervising thread."""

    def __init__(
        self, spec: ExperimentSpec, logdir: Path, experiments_root: Path, options: LocalOptions = LocalOptions(),
        metrics: m.Metrics | None = None,
    ):
        self.spec = spec
        self.logdir = logdir
        self.folder = RunFolder(logdir)
        self.experiments_root = experiments_root
        self.options = options
        logdir.mkdir(parents=True, exist_ok=True)
        self.processes = ProcessGroup(logdir, die_with_parent=options.die_with_parent)
        self.port = options.port or free_port()
        ensure_secret_file(self.folder.secret)
        connect_to = "localhost" if options.host in ("", "0.0.0.0", "::", "[::]") else options.host
        self.client = LearnerClient(f"{connect_to}:{self.port}", read_secret_file(self.folder.secret))
        self.metrics_port = free_port() if options.metrics_port is None else options.metrics_port
        self.actors = spec.actors
        self.actor_restarts = 0
        self.learner_restarts = 0
        metrics = metrics or m.Metrics(spec.name, "controller")
        self._restarted = {
            kind: metrics(m.PROCESS_RESTARTS, experiment=spec.name, process=kind) for kind in ("actor", "learner")
        }
        self.learner_started_at = 0.0
        self._crashes: deque[float] = deque()
        self._restart_learner_at: float | None = None
        self._channel: grpc.Channel | None = None
        self.last_status: pb.LearnerStatus | None = None

    # --- Paths -------------------------------------------------------------------------

    def learner_log(self) -> Path:
        return self.processes.log_path("learner")

    # --- Configs -----------------------------------------------------------------------

    def learner_config(self, restore_from: Path | None) -> dict[str, Any]:
        return learner_config(self.spec, self.logdir, self.port, self.metrics_port, restore_from,
                              self.options.max_message_mb, host=self.options.host, secret_file=self.folder.secret)

    def actor_config(self, name: str) -> ActorConfig:
        """The config of `actor-<i>`, or of the `evaluator` (the evaluation envs, seeded after every actor's)."""
        extra = {"max_message_mb": self.options.max_message_mb} if self.options.max_message_mb is not None else {}
        return actor_config(
            self.spec, name, self.client.address, auth=ClientAuth(secret_file=self.folder.secret),
            metrics_host=metrics_host(self.options.host),
            metrics_port=0 if self.options.actor_metrics else -1,
            metrics_port_file=self.folder.metrics_port_file(name) if self.options.actor_metrics else None,
            backoff_max_s=LOCAL_BACKOFF_MAX_S, **extra,
        )

    def initial_checkpoint(self, requested: str | None) -> Path | None:
        """The checkpoint a fresh start restores: the one asked for, else the spec's `resume_from`
        if this experiment has none of its own yet (else the learner takes its newest)."""
        if requested is not None:
            return resolve_checkpoint(requested, self.folder.checkpoints, self.experiments_root)
        if self.spec.resume_from is not None and not list_checkpoints(self.folder.checkpoints):
            return resolve_checkpoint(self.spec.resume_from, self.folder.checkpoints, self.experiments_root)
        return None

    # --- Lifecycle ---------------------------------------------------------------------

    def start(self, checkpoint: str | None = None) -> None:
        """Start the learner (restoring `checkpoint` or as `initial_checkpoint` says) and the actors."""
        self._start_learner(self.initial_checkpoint(checkpoint))
        for name in self.actor_names() + self.evaluator_names():
            self._start_actor(name)

    def _start_learner(self, restore_from: Path | None) -> None:
        path = self.folder.learner_config
        write_json(path, self.learner_config(restore_from))
        self.learner_started_at = time.time()
        self.processes.start("learner", ["learner", "--config", str(path)])

    def _start_actor(self, name: str) -> None:
        self.folder.metrics_port_file(name).unlink(missing_ok=True)  # never advertise a dead process's port
        path = self.folder.actor_config(name)
        write_json(path, self.actor_config(name).model_dump(mode="json"))
        self.processes.start(name, ["actor", "--config", str(path)])

    def scale(self, actors: int) -> None:
        """Run `actors` actors: start the missing ones, stop the extra ones (highest index first)."""
        extra = [f"actor-{i}" for i in range(actors, self.actors)]
        self.processes.stop(extra, ACTOR_STOP_TIMEOUT_S)
        for name in extra:
            self.processes.processes.pop(name, None)
            self.folder.metrics_port_file(name).unlink(missing_ok=True)
        for index in range(self.actors, actors):
            self._start_actor(f"actor-{index}")
        self.actors = actors

    def actor_names(self) -> list[str]:
        """The training actors' process names."""
        return [f"actor-{i}" for i in range(self.actors)]

    def evaluator_names(self) -> list[str]:
        """The evaluation actor's process name, if the spec asks for evaluation envs."""
        return [EVALUATOR] if self.spec.eval_envs else []

    def alive_actors(self) -> int:
        return sum(self.processes.alive(name) for name in self.actor_names())

    def actor_metrics_ports(self) -> list[int]:
        """The /metrics ports the running actors (and the evaluator) reported."""
        ports = []
        for name in self.actor_names() + self.evaluator_names():
            try:
                ports.append(int(self.folder.metrics_port_file(name).read_text()))
            except (OSError, ValueError):  # not serving yet
                continue
        return ports

    def learner_alive(self) -> bool:
        return self.processes.alive("learner")

    def supervise(self) -> Outcome | None:
        """Restart what crashed; returns an Outcome once the run has ended on its own."""
        for name in self.actor_names() + self.evaluator_names():
            process = self.processes.processes.get(name)
            if process is not None:
                if process.poll() is None:
                    continue
                if process.returncode == defaults.ACTOR_REFUSED_EXIT_CODE:
                    return Outcome("Failed", f"{name} was refused by the learner (see {self.processes.log_path(name)})")
                log.warning("%s of %s exited with code %s; restarting it", name, self.spec.name, process.returncode)
                self.actor_restarts += 1
                self._restarted["actor"].inc()
            self._start_actor(name)
        return self._supervise_learner()

    def _supervise_learner(self) -> Outcome | None:
        now = time.monotonic()
        if self._restart_learner_at is not None:
            if now >= self._restart_learner_at:
                self._restart_learner_at = None
                self.learner_restarts += 1
                self._restarted["learner"].inc()
                try:
                    self._start_learner(self.initial_checkpoint(None))
                except CheckpointNotFound as error:
                    return Outcome("Failed", f"cannot restart the learner: {error}")
            return None
        process = self.processes.processes["learner"]
        if process.poll() is None:
            return None
        final = self.final_status()
        if final is not None and final.end_reason == "total_frames":
            return Outcome("Succeeded", f"reached total_frames ({final.frames:,} frames)")
        cause = exit_cause(process.returncode)
        if final is not None and final.end_reason == "failed":
            cause += f": {final.end_message}"
        elif final is not None and final.end_reason == "stopped":
            cause += ": it was stopped by a signal the runtime did not send"
        while self._crashes and now - self._crashes[0] > LEARNER_RESTART_WINDOW_S:
            self._crashes.popleft()
        self._crashes.append(now)
        if len(self._crashes) > self.options.learner_max_restarts:
            return Outcome(
                "Failed",
                f"the learner exited {len(self._crashes)} time{'s' if len(self._crashes) > 1 else ''} within "
                f"{LEARNER_RESTART_WINDOW_S:.0f}s "
                f"(last: {cause}); see {self.learner_log()}",
            )
        delay = 2.0 ** (len(self._crashes) - 1)
        log.warning("learner of %s exited (%s); restarting it in %.0fs from its newest checkpoint",
                    self.spec.name, cause, delay)
        self._restart_learner_at = now + delay
        return None

    def stop(self) -> pb.LearnerStatus | None:
        """Stop the actors, then the learner (which writes a final checkpoint); returns its final status."""
        self.processes.stop(self.actor_names() + self.evaluator_names(), ACTOR_STOP_TIMEOUT_S)
        self.poll_status()
        self.processes.stop(["learner"], LEARNER_STOP_TIMEOUT_S)
        self._restart_learner_at = None
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        return self.final_status() or self.last_status

    # --- Observation -------------------------------------------------------------------

    def poll_status(self) -> pb.LearnerStatus | None:
        """Ask the learner for its status; None (keeping `last_status`) if it does not answer."""
        if self._channel is None:
            self._channel = learner_channel.channel(self.client)
        try:
            status = pb_grpc.LearnerStub(self._channel).GetStatus(
                pb.StatusRequest(), timeout=STATUS_TIMEOUT_S, metadata=self.client.metadata
            )
        except grpc.RpcError:
            return None
        self.last_status = status
        return status

    def final_status(self) -> pb.LearnerStatus | None:
        """The status the current learner wrote as it stopped, if it wrote one."""
        path = self.folder.final_status
        try:
            if path.stat().st_mtime < self.learner_started_at:
                return None
            return json_format.Parse(path.read_text(), pb.LearnerStatus())
        except (OSError, json_format.ParseError):
            return None

    # --- Adoption ----------------------------------------------------------------------

    def record(self) -> dict[str, Any]:
        """What a later controller needs to adopt these processes."""
        return {
            "port": self.port, "metrics_port": self.metrics_port, "actors": self.actors,
            "learner_started_at": self.learner_started_at,
            "processes": {name: list(pid_ticks) for name, pid_ticks in self.processes.records().items()},
        }

    @classmethod
    def adopt(
        cls, spec: ExperimentSpec, logdir: Path, experiments_root: Path, options: LocalOptions, record: dict[str, Any],
        metrics: m.Metrics | None = None,
    ) -> "LocalExperiment | None":
        """Take over the live processes in `record`; None if its learner is gone (actors found are stopped)."""
        run = cls(spec, logdir, experiments_root, dataclasses.replace(options, port=record["port"]), metrics)
        run.metrics_port = record["metrics_port"]
        run.actors = record["actors"]
        run.learner_started_at = record["learner_started_at"]
        for name, (pid, ticks) in record["processes"].items():
            run.processes.adopt(name, pid, ticks)
        if not run.learner_alive():
            run.processes.stop(list(run.processes.processes), ACTOR_STOP_TIMEOUT_S)
            return None
        return run
