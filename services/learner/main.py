"""A learner process: wires the agent, inference, training and the gRPC server, and runs them."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

import grpc
import tensorflow as tf
from google.protobuf import json_format

from seedrl.envs.describe import env_spec
from seedrl.common import metrics as m
from seedrl.common.files import write_atomically
from seedrl.common.grpc_options import server_options
from seedrl.learner.agents import build_agent
from seedrl.learner.batcher import DeadlineBatcher
from seedrl.learner.checkpoints import Checkpointer
from seedrl.spec.learner import LearnerConfig
from seedrl.spec.scaling import BatchRule
from seedrl.learner.devices.acting import Acting, InferenceCopies, LiveActing
from seedrl.learner.devices.plan import DevicePlan
from seedrl.learner.devices.precision import mixed_precision
from seedrl.learner.devices.strategy import learner_devices
from seedrl.learner.episodes import EpisodeStats, RateMeter
from seedrl.learner.inference import InferencePipeline, unroll_fields
from seedrl.learner.readiness import Readiness
from seedrl.learner.replay.agent import ReplayAgent
from seedrl.learner.replay.table import ReplayTable, build_replay_table, export_replay_metrics
from seedrl.learner.server import LearnerService
from seedrl.learner.training import Trainer
from seedrl.learner.unroll_queue import UnrollQueue
from seedrl.v1 import learner_pb2 as pb
from seedrl.v1 import learner_pb2_grpc as pb_grpc

log = logging.getLogger(__name__)


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
        self.acting = self._acting()
        self.stats = EpisodeStats()
        self.eval_stats = EpisodeStats()
        self.checkpointer = Checkpointer(config.folder.checkpoints, self.agent.checkpoint_items(), self.stats, config.checkpoint.keep)
        self.restored_from = self.checkpointer.restore(config.restore_from)
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
        stats = self.stats
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
            done=self.trainer.finished.is_set(),
        )

    async def serve(self) -> None:
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
            config.stream_idle_timeout_s,
        )
        server = grpc.aio.server(options=server_options(config.max_message_mb))
        pb_grpc.add_LearnerServicer_to_server(self._service, server)
        await self.readiness.add_to(server)
        self.port = server.add_insecure_port(f"{config.host}:{config.port}")
        if config.metrics_port >= 0:
            self.metrics_port = self.metrics.serve(config.metrics_port)
        batcher.start()
        if not config.inference_only:
            self.trainer.start()
        await server.start()
        await self.readiness.set(True)
        log.info(
            "learner %s serving %s on port %d (metrics %s); %s",
            config.experiment, self.spec, self.port, self.metrics_port,
            f"resumed from {self.restored_from}" if self.restored_from else "fresh start",
        )
        monitor = loop.create_task(self._monitor(stop))
        await stop.wait()
        log.info("stopping at %d frames", self.stats.frames)
        await self.readiness.set(False)
        monitor.cancel()
        self.trainer.stop()
        self.queue.close()  # wakes an inference batch blocked on a full queue
        await server.stop(grace=1.0)
        await batcher.close()
        if not config.inference_only:
            await asyncio.to_thread(self.trainer.join)
            self.trainer.checkpoint()
        write_final_status(self.config.folder.final_status, self.status())
        if self.trainer.error is not None:
            raise RuntimeError("training failed") from self.trainer.error

    async def _monitor(self, stop: asyncio.Event) -> None:
        """Once a second: frame rate and gauges; stop when training has finished."""
        meter = RateMeter()
        fps = self.metrics(m.ENV_FPS)
        while not self.trainer.finished.is_set() and self.stats.frames < self.config.total_frames:
            self._fps = meter.update(self.stats.frames)
            fps.set(self._fps)
            # Means appear with the first episode: a 0 before it would read as a return.
            if self.stats.episodes:
                self.metrics(m.EPISODE_RETURN).set(self.stats.mean_return)
                self.metrics(m.EPISODE_LENGTH).set(self.stats.mean_length)
            if self.eval_stats.episodes:
                self.metrics(m.EVAL_RETURN).set(self.eval_stats.mean_return)
            await asyncio.sleep(1.0)
        stop.set()


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


def run_learner(config: LearnerConfig) -> None:
    asyncio.run(Learner(config).serve())
