"""`seedrl train`: run a learner and its actors locally, show progress, stop cleanly, summarise.

The run folder (`--logdir`) holds the configs the processes were started with,
their logs, checkpoints, TensorBoard summaries and `summary.json`. Running again
with the same folder resumes from its newest checkpoint.
"""

from __future__ import annotations

import json
import logging
import math
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import grpc
from google.protobuf import json_format

from seedrl.actor.config import ActorConfig
from seedrl.actor.envs import reward_threshold
from seedrl.common.files import write_atomically
from seedrl.launch.config import TrainConfig
from seedrl.launch.processes import ProcessGroup
from seedrl.v1 import learner_pb2 as pb
from seedrl.v1 import learner_pb2_grpc as pb_grpc

log = logging.getLogger(__name__)

# An actor exits with this code when the learner refuses it for good (restarting cannot help).
ACTOR_REFUSED_EXIT_CODE = 3
POLL_S = 0.5
LEARNER_STOP_TIMEOUT_S = 60.0
# The learner is on this machine: retry often while it starts (TensorFlow takes seconds to load).
LOCAL_BACKOFF_MAX_S = 0.5


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _write_json(path: Path, data: Any) -> None:
    write_atomically(path, json.dumps(data, indent=2, default=str) + "\n")


def latest_checkpoint(directory: Path) -> Path | None:
    """The newest checkpoint named in TensorFlow's `checkpoint` state file, without importing TensorFlow."""
    state = directory / "checkpoint"
    if not state.exists():
        return None
    for line in state.read_text().splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model_checkpoint_path":
            return directory / value.strip().strip('"')
    return None


def progress_line(status: pb.LearnerStatus | None, elapsed: float, actors_alive: int, actors: int) -> str:
    if status is None:
        return f"[{elapsed:6.1f}s] waiting for the learner..."
    mean = "   n/a" if math.isnan(status.mean_return_100) else f"{status.mean_return_100:7.1f}"
    return (
        f"[{elapsed:6.1f}s] frames {status.frames:>10,} | fps {status.fps:>8,.0f} | "
        f"return(100) {mean} | episodes {status.episodes:>7,} | steps {status.learner_steps:>6,} | "
        f"actors {actors_alive}/{actors}"
    )


class _Progress:
    """Rewrites one line on a terminal; prints a line every few seconds elsewhere."""

    def __init__(self, stream: TextIO, every_s: float = 5.0):
        self._stream = stream
        self._tty = stream.isatty()
        self._every_s = every_s
        self._last = -math.inf

    def show(self, line: str, now: float) -> None:
        if self._tty:
            self._stream.write("\r" + line.ljust(120))
        elif now - self._last >= self._every_s:
            self._stream.write(line + "\n")
            self._last = now
        else:
            return
        self._stream.flush()

    def done(self, line: str) -> None:
        self._stream.write(("\r" + line.ljust(120) if self._tty else line) + "\n")
        self._stream.flush()


class LocalRun:
    """One `seedrl train` run."""

    def __init__(self, config: TrainConfig, out: TextIO = sys.stdout):
        self.config = config
        self._out = out
        self._interrupted = False
        self.logdir = config.logdir
        self.logdir.mkdir(parents=True, exist_ok=True)
        self.processes = ProcessGroup(self.logdir)
        self.port = config.port or free_port()
        learner = config.learner_config().model_copy(
            update={"port": self.port, "metrics_port": config.metrics_port}
        )
        self._learner_config = self.logdir / "learner.json"
        _write_json(self._learner_config, learner.model_dump(mode="json"))
        self._actor_configs = []
        for index in range(config.actors):
            actor = ActorConfig(
                learner=f"localhost:{self.port}", env=config.env, envs_per_actor=config.envs_per_actor,
                streams=min(config.streams_per_actor, config.envs_per_actor), actor_id=f"actor-{index}",
                experiment=config.experiment, seed=config.seed * 1_000_003 + index * config.envs_per_actor,
                metrics_port=0 if config.actor_metrics else -1, max_message_mb=config.max_message_mb,
                backoff_max_s=LOCAL_BACKOFF_MAX_S,
            )
            path = self.logdir / f"actor-{index}.json"
            _write_json(path, actor.model_dump(mode="json"))
            self._actor_configs.append(path)
        self.solve_return = config.stop_at_return if config.stop_at_return is not None else reward_threshold(config.env)
        self.actor_restarts = 0

    def _interrupt(self, signum: int, frame: Any) -> None:
        self._interrupted = True

    def run(self) -> dict[str, Any]:
        """Train until a stop condition; returns (and writes) the summary."""
        config = self.config
        previous = {sig: signal.signal(sig, self._interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
        started = time.monotonic()
        self._started_at = time.time()
        self.processes.start("learner", ["learner", "--config", str(self._learner_config)])
        for index in range(config.actors):
            self._start_actor(index)
        self._out.write(
            f"seedrl train: {config.env} with {config.agent}, {config.actors} actors x {config.envs_per_actor} envs; "
            f"logs, checkpoints and summaries in {self.logdir}\n"
            f"  TensorBoard: tensorboard --logdir {config.tensorboard_dir}\n"
        )
        progress = _Progress(self._out)
        channel = grpc.insecure_channel(f"localhost:{self.port}")
        stub = pb_grpc.LearnerStub(channel)
        status: pb.LearnerStatus | None = None
        first_frames: int | None = None
        solved_at: float | None = None
        reason = "interrupted"
        try:
            while not self._interrupted:
                time.sleep(POLL_S)
                elapsed = time.monotonic() - started
                learner = self.processes.processes["learner"]
                if learner.poll() is not None:
                    reason = "total_frames" if learner.returncode == 0 else f"learner exited with code {learner.returncode}"
                    break
                refused = self._supervise_actors()
                if refused:
                    reason = refused
                    break
                try:
                    status = stub.GetStatus(pb.StatusRequest(), timeout=2.0)
                except grpc.RpcError:
                    pass
                alive = sum(self.processes.processes[f"actor-{i}"].poll() is None for i in range(config.actors))
                progress.show(progress_line(status, elapsed, alive, config.actors), elapsed)
                if status is None:
                    continue
                if first_frames is None:
                    first_frames = status.frames
                if (
                    solved_at is None and self.solve_return is not None and status.episodes >= 100
                    and status.mean_return_100 >= self.solve_return
                ):
                    solved_at = elapsed
                    if config.stop_at_return is not None:
                        reason = "solved"
                        break
                if status.done:
                    reason = "total_frames"
                    break
                if config.max_seconds is not None and elapsed >= config.max_seconds:
                    reason = "max_seconds"
                    break
            if status is not None:
                progress.done(progress_line(status, time.monotonic() - started, 0, config.actors))
        finally:
            self.processes.stop([f"actor-{i}" for i in range(config.actors)], timeout=10.0)
            try:
                status = stub.GetStatus(pb.StatusRequest(), timeout=2.0)
            except grpc.RpcError:
                pass
            self.processes.stop(["learner"], timeout=LEARNER_STOP_TIMEOUT_S)
            status = self._final_status(status)
            channel.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        wall = time.monotonic() - started
        summary = self._summary(status, first_frames, wall, solved_at, reason)
        _write_json(self.logdir / "summary.json", summary)
        self._out.write(f"stopped ({reason}); summary in {self.logdir / 'summary.json'}\n")
        return summary

    def _final_status(self, polled: pb.LearnerStatus | None) -> pb.LearnerStatus | None:
        """The status the learner wrote as it stopped, if this run's learner wrote one."""
        path = self.config.final_status_path
        if path.exists() and path.stat().st_mtime >= self._started_at:
            return json_format.Parse(path.read_text(), pb.LearnerStatus())
        return polled

    def _start_actor(self, index: int) -> None:
        self.processes.start(f"actor-{index}", ["actor", "--config", str(self._actor_configs[index])])

    def _supervise_actors(self) -> str | None:
        """Restart crashed actors; returns a stop reason if one was refused for good."""
        for index in range(self.config.actors):
            process = self.processes.processes[f"actor-{index}"]
            if process.poll() is None:
                continue
            if process.returncode == ACTOR_REFUSED_EXIT_CODE:
                return f"actor-{index} was refused by the learner (see {self.processes.log_path(f'actor-{index}')})"
            log.warning("actor-%d exited with code %s; restarting it", index, process.returncode)
            self.actor_restarts += 1
            self._start_actor(index)
        return None

    def _summary(
        self, status: pb.LearnerStatus | None, first_frames: int | None, wall: float, solved_at: float | None, reason: str
    ) -> dict[str, Any]:
        frames = status.frames if status else 0
        run_frames = frames - (first_frames or 0)
        mean = status.mean_return_100 if status else float("nan")
        checkpoint = latest_checkpoint(self.config.checkpoint_dir)
        return {
            "env": self.config.env,
            "agent": self.config.agent,
            "frames": frames,
            "frames_this_run": run_frames,
            "wall_seconds": round(wall, 3),
            "fps": round(run_frames / wall, 1) if wall > 0 else 0.0,
            "mean_return_100": None if math.isnan(mean) else mean,
            "episodes": status.episodes if status else 0,
            "learner_steps": status.learner_steps if status else 0,
            "solve_return": self.solve_return,
            "solved_at_seconds": None if solved_at is None else round(solved_at, 3),
            "stop_reason": reason,
            "actor_restarts": self.actor_restarts,
            "checkpoint": str(checkpoint) if checkpoint else None,
            "last_checkpoint_step": int(checkpoint.name.rsplit("-", 1)[-1]) if checkpoint else -1,
        }
