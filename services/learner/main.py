"""A learner process: wires the agent, inference, training and the gRPC server, and runs them.

A learner ends in one of three ways, which its final status file (`learner_status.json`)
records as `end_reason` (docs/reliability.md):

- `total_frames`: the frame budget was reached; a final checkpoint is written, `done` is true,
  and the process exits 0;
- `stopped`: SIGTERM or SIGINT; a final checkpoint is written and the process exits 0;
- `failed`: training or inference raised, or the final checkpoint could not be written;
  `end_message` says what failed and the process exits 1, to be restarted from its newest
  checkpoint (a learner that failed writes no final checkpoint of what may be a broken model).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import grpc
import tensorflow as tf
from google.protobuf import json_format

from seedrl.envs.describe import env_spec
from seedrl.common import metrics as m
from seedrl.common.credentials import CredentialsError
from seedrl.common.files import write_atomically
from seedrl.common.grpc_options import server_options
from seedrl.learner.agents import build_agent
from seedrl.learner.auth import interceptors, server_credentials
from seedrl.learner.batcher import DeadlineBatcher
from seedrl.learner.checkpoints import Checkpointer
from seedrl.spec.learner import LearnerConfig
from seedrl.spec.scaling import BatchRule
from seedrl.learner.devices.acting import Acting, InferenceCopies, LiveActing
from seedrl.learner.devices.plan import DevicePlan, MissingDevices
from seedrl.learner.devices.precision import mixed_precision
from seedrl.learner.devices.strategy import learner_devices
from seedrl.learner.episodes import EpisodeStats, RateMeter
from seedrl.learner.inference import InferencePipeline, unroll_fields
from seedrl.learner.readiness import Readiness
from seedrl.learner.replay.agent import ReplayAgent
from seedrl.learner.replay.table import ReplayTable, build_replay_table, export_replay_metrics
from seedrl.learner.server import LearnerService, StreamLimits
from seedrl.learner.training import Trainer
from seedrl.learner.unroll_queue import UnrollQueue
from seedrl.v1 import learner_pb2 as pb
from seedrl.v1 import learner_pb2_grpc as pb_grpc

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ending:
    """Why a learner stopped: `reason` is LearnerStatus.end_reason, `message` what failed (for "failed")."""

    reason: Literal["total_frames", "stopped", "failed"]
    message: str = ""


class LearnerFailed(RuntimeError):
    """The learner ended as failed (its final status says why); the process exits 1."""


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}".splitlines()[0]


class Learner:
    """One experiment's learner. `serve()` runs until the frame budget or a stop signal."""

    def __init__(self, config: LearnerConfig):
        self.config = config
        tf.random.set_seed(config.seed)
        self.spec = env_spec(config.env, config.env_options)
        self.metrics = m.Metrics(config.experiment, "learner")
        self.devices, strategy = learner_devices(config.devices)
        log.info("devices: %s", self.devices.describe())
        export_device_plan(self.devices, self.metrics)
        with mixed_precision(config.devices.mixed_precision), strategy.scope():
            self.agent = build_agent(config, self.spec)
        check_batch_split(config, self.agent.batch_size, len(self.devices.training))
        self.stats = EpisodeStats()
        self.eval_stats = EpisodeStats()
        self.checkpointer = Checkpointer(config.folder.checkpoints, self.agent.checkpoint_items(), self.stats, config.checkpoint.keep)
        self.restored_from = self.checkpointer.restore(config.restore_from)
        self.acting = self._acting()  # after the restore: inference starts from the restored policy and its version
        # Replay is not checkpointed (as in SEED): after a restart it refills to min_fill before training.
        if isinstance(self.agent, ReplayAgent):
            fields = unroll_fields(self.agent, self.spec)
            self.queue: UnrollQueue | ReplayTable = build_replay_table(self.agent, fields, self.metrics, config.seed)
        else:
            self.queue = UnrollQueue(self.agent.batch_size, config.unroll_queue_batches)
            export_replay_metrics(self.metrics)
        self.pipeline = InferencePipeline(
            self.agent, self.spec, config.inference.max_slots, self.queue, self.stats, self.eval_stats, self.metrics,
            self.acting,
            collect_unrolls=not config.inference_only,
            serving=self.queue.serve if isinstance(self.queue, UnrollQueue) else None,
        )
        config.folder.tensorboard.mkdir(parents=True, exist_ok=True)
        self.trainer = Trainer(
            self.agent, self.queue, self.stats, self.eval_stats, self.checkpointer, self.metrics, self.acting,
            tf.summary.create_file_writer(str(config.folder.tensorboard)),
            config.total_frames, config.checkpoint.every_s, config.summary_every_s,
        )
        self._fps = 0.0
        self.port: int | None = None
        self.metrics_port: int | None = None
        self._service: LearnerService | None = None
        self.readiness = Readiness()
        self.ending: Ending | None = None

    def _acting(self) -> Acting:
        """Inference with the live weights, or from copies of the agent on the plan's inference devices."""
        if self.devices.shared:
            self.metrics(m.WEIGHT_REFRESH_DURATION)  # exported empty: there are no copies to refresh
            return LiveActing(self.agent)
        config = self.config

        def build():
            with mixed_precision(config.devices.mixed_precision):
                return build_agent(config, self.spec)

        return InferenceCopies(self.agent, build, self.devices.inference, config.devices.weight_refresh_steps, self.metrics)

    def status(self) -> pb.LearnerStatus:
        stats, ending = self.stats, self.ending
        return pb.LearnerStatus(
            experiment=self.config.experiment,
            frames=stats.frames,
            learner_steps=self.agent.steps,
            episodes=stats.episodes,
            mean_return_100=stats.mean_return,
            mean_episode_length_100=stats.mean_length,
            fps=self._fps,
            connected_streams=self._service.open_streams if self._service else 0,
            leased_slots=self.pipeline.slots.leased,
            last_checkpoint_step=self.checkpointer.last_step,
            done=ending.reason == "total_frames" if ending else self._reached_budget(),
            end_reason=ending.reason if ending else "",
            end_message=ending.message if ending else "",
        )

    def _reached_budget(self) -> bool:
        return self.trainer.reached_budget.is_set() or self.stats.frames >= self.config.total_frames

    async def serve(self) -> None:
        """Serve until the frame budget, a stop signal or a failure; write the final status.

        Raises:
          LearnerFailed: training, inference or the final checkpoint failed.
        """
        config = self.config
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)

        batcher = DeadlineBatcher(
            self.pipeline.process, config.inference.max_batch_size, config.inference.max_wait_ms / 1000,
            workers=len(self.devices.inference_devices),
        )
        self._service = LearnerService(
            config.experiment, self.spec, self.pipeline, batcher, self.metrics, self.status, lambda: self.agent.steps,
            StreamLimits(config.stream_idle_timeout_s, config.hello_timeout_s, config.max_envs_per_stream),
        )
        server = grpc.aio.server(options=server_options(config.max_message_mb),
                                 interceptors=interceptors(config.auth, self.metrics))
        pb_grpc.add_LearnerServicer_to_server(self._service, server)
        await self.readiness.add_to(server)
        address, credentials = f"{config.host}:{config.port}", server_credentials(config.auth)
        self.port = server.add_secure_port(address, credentials) if credentials else server.add_insecure_port(address)
        if config.metrics_port >= 0:
            self.metrics_port = self.metrics.serve(config.metrics_port, config.metrics_host)
        batcher.start()
        if not config.inference_only:
            self.trainer.start()
        await server.start()
        await self.readiness.set(True)
        log.info(
            "learner %s serving %s on %s:%d (%s; metrics %s); %s",
            config.experiment, self.spec, config.host, self.port, "TLS" if credentials else "plaintext",
            self.metrics_port, f"resumed from {self.restored_from}" if self.restored_from else "fresh start",
        )
        ending = await self._run_until_end(stop, batcher)
        log.info("stopping at %d frames: %s%s", self.stats.frames, ending.reason, f" ({ending.message})" if ending.message else "")
        await self.readiness.set(False)
        self.trainer.stop()
        self.queue.close()  # wakes an inference batch blocked on a full queue
        await server.stop(grace=1.0)
        await batcher.close()
        if not config.inference_only:
            await asyncio.to_thread(self.trainer.join)
            if self.trainer.error is not None and ending.reason != "failed":  # it failed while stopping
                ending = Ending("failed", f"training failed: {_describe(self.trainer.error)}")
            if ending.reason != "failed" and self.trainer.checkpoint() is None:
                ending = Ending("failed", f"{'reached total_frames' if ending.reason == 'total_frames' else 'stopped'}, "
                                          f"but the final checkpoint could not be written: {self.trainer.checkpoint_error}")
        self.ending = ending
        write_final_status(self.config.folder.final_status, self.status())
        if ending.reason == "failed":
            raise LearnerFailed(ending.message)

    async def _run_until_end(self, stop: asyncio.Event, batcher: DeadlineBatcher) -> Ending:
        """Once a second (and at once on a stop signal or a failed batch): frame rate and gauges; returns
        once the run has ended for one of its reasons."""
        meter = RateMeter()
        fps = self.metrics(m.ENV_FPS)
        while True:
            if self.trainer.error is not None:
                return Ending("failed", f"training failed: {_describe(self.trainer.error)}")
            if batcher.error is not None:
                return Ending("failed", f"inference failed: {_describe(batcher.error)}")
            if self._reached_budget():
                return Ending("total_frames")
            if stop.is_set():
                return Ending("stopped")
            self._fps = meter.update(self.stats.frames)
            fps.set(self._fps)
            # Means appear with the first episode: a 0 before it would read as a return.
            if self.stats.episodes:
                self.metrics(m.EPISODE_RETURN).set(self.stats.mean_return)
                self.metrics(m.EPISODE_LENGTH).set(self.stats.mean_length)
            if self.eval_stats.episodes:
                self.metrics(m.EVAL_RETURN).set(self.eval_stats.mean_return)
            await _first_of(stop.wait(), batcher.failed.wait(), timeout=1.0)  # training is checked once a second


async def _first_of(*awaitables, timeout: float) -> None:
    """Wait until one of `awaitables` completes or `timeout` passes; cancel the rest."""
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    try:
        await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


def export_device_plan(plan: DevicePlan, metrics: m.Metrics) -> None:
    """`seedrl_learner_devices{use, device}` = 1 for each device of the plan."""
    for device in plan.inference:
        metrics(m.LEARNER_DEVICES, use="inference", device=device).set(1)
    for index, device in enumerate(plan.training):
        metrics(m.LEARNER_DEVICES, use="shared" if plan.shared and index == 0 else "training", device=device).set(1)


def check_batch_split(config: LearnerConfig, batch_size: int | BatchRule, replicas: int) -> None:
    """Each training replica takes an equal share of a batch: the agent's batch_size must divide evenly
    (an automatic one is sized so that it does)."""
    if isinstance(batch_size, int) and batch_size % replicas:
        section = config.agent if config.agent in ("vtrace", "r2d2", "sac") else "policy_gradient"
        raise ValueError(
            f"{section}.batch_size ({batch_size}) must be a multiple of the {replicas} training devices"
        )


def write_final_status(path: Path, status: pb.LearnerStatus) -> None:
    """Leave the learner's last counters beside its checkpoints (read by `seedrl train`)."""
    write_atomically(path, json_format.MessageToJson(status, preserving_proto_field_name=True))


def run_learner(config: LearnerConfig) -> int:
    """Run a learner process to its end; returns its exit code: 0, or 1 when it ended as failed
    (its final status says why: also when it does not see the accelerators it asks for) or could not
    read its credentials."""
    try:
        learner = Learner(config)
    except MissingDevices as error:  # before serving: the final status is all there is to say why
        config.folder.final_status.parent.mkdir(parents=True, exist_ok=True)
        write_final_status(config.folder.final_status, pb.LearnerStatus(
            experiment=config.experiment, end_reason="failed", end_message=str(error)))
        return failed(error)
    try:
        asyncio.run(learner.serve())
    except (LearnerFailed, CredentialsError) as error:
        return failed(error)
    return 0


# Where Kubernetes reads a container's termination message (the pod's lastState.terminated.message).
TERMINATION_LOG = Path("/dev/termination-log")


def failed(error: BaseException) -> int:
    """Log why the learner failed and leave it as the container's termination message; the exit code 1."""
    log.error("the learner failed: %s", error)
    if TERMINATION_LOG.exists():
        TERMINATION_LOG.write_text(str(error))
    return 1
