"""`seedrl train`: run a learner and its actors locally, show progress, stop cleanly, summarise.

The run folder (`--logdir`) holds the configs the processes were started with,
their logs, checkpoints, TensorBoard summaries and `summary.json`. Running again
with the same folder resumes from its newest checkpoint.

`summary.json`'s `stop_reason` says how the run ended: `solved` (--stop-at-return),
`total_frames`, `max_seconds`, `interrupted` (Ctrl-C, SIGTERM), or `failed: <cause>` (the
learner crash-looped, an actor was refused, or the learner's final checkpoint could not be
written); the command exits 1 for a failure.
"""

from __future__ import annotations

import math
import signal
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from seedrl.envs.registry import reward_threshold
from seedrl.common.checkpoint_files import latest_checkpoint, list_checkpoints
from seedrl.common.files import write_json
from seedrl.controller.runtimes.local_experiment import LocalExperiment, LocalOptions
from seedrl.launch.config import TrainConfig
from seedrl.v1 import learner_pb2 as pb

POLL_S = 0.5


def progress_line(status: pb.LearnerStatus | None, elapsed: float, actors_alive: int, actors: int) -> str:
    if status is None:
        return f"[{elapsed:6.1f}s] waiting for the learner..."
    mean = "   n/a" if math.isnan(status.mean_return_100) else f"{status.mean_return_100:7.1f}"
    return (
        f"[{elapsed:6.1f}s] frames {status.frames:>10,} | fps {status.fps:>8,.0f} | "
        f"return(100) {mean} | episodes {status.episodes:>7,} | steps {status.learner_steps:>6,} | "
        f"actors {actors_alive}/{actors}"
    )


def frames_at_start(checkpoints: Path) -> int | None:
    """The frames a run in this folder starts from: 0 in a fresh folder, else the count recorded with the newest
    checkpoint, which the learner restores (None if it was not recorded). Its first status cannot tell: actors may
    have trained for a while before it answers."""
    found = list_checkpoints(checkpoints)
    return found[-1].frames if found else 0


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
    """One `seedrl train` run: a LocalExperiment in the foreground, with progress and stop conditions."""

    def __init__(self, config: TrainConfig, out: TextIO = sys.stdout):
        self.config = config
        self._out = out
        self._interrupted = False
        self.logdir = config.logdir
        self.experiment = LocalExperiment(
            config.spec(), config.logdir, config.logdir.parent,
            LocalOptions(host=config.host, port=config.port, metrics_port=config.metrics_port,
                         actor_metrics=config.actor_metrics, max_message_mb=config.max_message_mb,
                         learner_max_restarts=config.learner_restarts),
        )
        self.port = self.experiment.port
        self.solve_return = config.stop_at_return if config.stop_at_return is not None else reward_threshold(config.env)

    def _interrupt(self, signum: int, frame: Any) -> None:
        self._interrupted = True

    def run(self) -> dict[str, Any]:
        """Train until a stop condition; returns (and writes) the summary."""
        config, experiment = self.config, self.experiment
        previous = {sig: signal.signal(sig, self._interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
        first_frames = frames_at_start(self.config.folder.checkpoints)  # before the learner writes any
        started = time.monotonic()
        experiment.start()
        self._out.write(
            f"seedrl train: {config.env} with {config.agent}, {config.actors} actors x {config.envs_per_actor} envs; "
            f"logs, checkpoints and summaries in {self.logdir}\n"
            f"  TensorBoard: tensorboard --logdir {config.folder.tensorboard}\n"
        )
        progress = _Progress(self._out)
        status: pb.LearnerStatus | None = None
        solved_at: float | None = None
        solved_frames: int | None = None
        reason = "interrupted"
        try:
            while not self._interrupted:
                time.sleep(POLL_S)
                elapsed = time.monotonic() - started
                outcome = experiment.supervise()
                if outcome is not None:
                    reason = "total_frames" if outcome.phase == "Succeeded" else f"failed: {outcome.message}"
                    break
                status = experiment.poll_status() or status
                progress.show(progress_line(status, elapsed, experiment.alive_actors(), config.actors), elapsed)
                if status is None:
                    continue
                if first_frames is None:  # resumed from a checkpoint whose frames were not recorded
                    first_frames = status.frames
                if (
                    solved_at is None and self.solve_return is not None and status.episodes >= 100
                    and status.mean_return_100 >= self.solve_return
                ):
                    solved_at, solved_frames = elapsed, status.frames
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
            final = experiment.stop()
            status = final or status
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if final is not None and final.end_reason == "failed" and not reason.startswith("failed"):
            reason = f"failed: {final.end_message}"  # e.g. the final checkpoint could not be written
        wall = time.monotonic() - started
        summary = self._summary(status, first_frames, wall, solved_at, reason)
        summary["solved_at_frames"] = solved_frames
        write_json(self.config.folder.summary, summary)
        self._out.write(f"stopped ({reason}); summary in {self.config.folder.summary}\n")
        return summary

    def _summary(
        self, status: pb.LearnerStatus | None, first_frames: int | None, wall: float, solved_at: float | None, reason: str
    ) -> dict[str, Any]:
        frames = status.frames if status else 0
        run_frames = frames - (first_frames or 0)
        mean = status.mean_return_100 if status else float("nan")
        checkpoint = latest_checkpoint(self.config.folder.checkpoints)
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
            "actor_restarts": self.experiment.actor_restarts,
            "learner_restarts": self.experiment.learner_restarts,
            "checkpoint": str(checkpoint) if checkpoint else None,
            "last_checkpoint_step": int(checkpoint.name.rsplit("-", 1)[-1]) if checkpoint else -1,
        }
