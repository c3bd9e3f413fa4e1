"""Faults injected into a real `seedrl train` run: actors and the learner SIGKILLed while it trains.

The CI runs the short form; the long form kills for longer (docs/reliability.md):

    SEEDRL_CHAOS_ROUNDS=100 python -m pytest tests/chaos
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from seedrl.common.ports import free_port
from seedrl.v1 import learner_pb2 as pb
from tests.integration.helpers import pids_with, read_summary, seedrl, status, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ACTORS, ENVS_PER_ACTOR, STREAMS_PER_ACTOR = 3, 8, 2
POLL_S = 0.05
# Actor kills, 2 s apart.
ROUNDS = int(os.environ.get("SEEDRL_CHAOS_ROUNDS", "5"))


@dataclass
class Run:
    """A `seedrl train` process with its learner port and run folder."""

    process: subprocess.Popen
    port: int
    logdir: Path

    def status(self) -> pb.LearnerStatus | None:
        return status(self.port, self.logdir / "secret")

    def actor_pids(self) -> list[int]:
        return [pid for pid in pids_with(str(self.logdir / "actor-")) if "--config" in _cmdline(pid)]

    def learner_pid(self) -> int:
        (pid,) = pids_with(str(self.logdir / "learner.json"))
        return pid

    def stop(self) -> dict:
        self.process.send_signal(signal.SIGINT)
        self.process.wait(120)
        return read_summary(self.logdir)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def start_run(logdir: Path, *args: str) -> Run:
    port = free_port()
    process = seedrl(
        "train", "--env", "gym:CartPole-v1", "--actors", str(ACTORS), "--envs-per-actor", str(ENVS_PER_ACTOR),
        "--streams-per-actor", str(STREAMS_PER_ACTOR), "--total-frames", str(10**9), "--max-seconds", str(120 + 3 * ROUNDS),
        "--port", str(port), "--logdir", str(logdir), *args,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    run = Run(process, port, logdir)
    wait_for(lambda: (s := run.status()) is not None and s.learner_steps > 0, timeout=120, what="training started")
    return run


def all_streams_connected(run: Run) -> bool:
    s = run.status()
    return s is not None and s.connected_streams == ACTORS * STREAMS_PER_ACTOR and s.leased_slots == ACTORS * ENVS_PER_ACTOR


def longest_stall(run: Run, seconds: float) -> tuple[float, int, int]:
    """Poll for `seconds`: the longest time without new frames, and frames and learner steps gained."""
    first = run.status()
    last_frames, last_change, stall = first.frames, time.monotonic(), 0.0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(POLL_S)
        s = run.status()
        now = time.monotonic()
        if s.frames > last_frames:
            last_frames, last_change = s.frames, now
        stall = max(stall, now - last_change)
    return stall, last_frames - first.frames, s.learner_steps - first.learner_steps


def test_killed_actors_are_restarted_and_training_never_stalls(tmp_path):
    """SIGKILL a random actor every 2 s: the others keep being served (their slots never wait for the dead
    one's), training keeps stepping, the dead actors' slots are reclaimed and the runtime restarts them."""
    run = start_run(tmp_path / "run")
    try:
        rng = random.Random(0)
        kills, stalls = 0, []
        for _ in range(ROUNDS):
            os.kill(rng.choice(run.actor_pids()), signal.SIGKILL)
            kills += 1
            stall, frames, steps = longest_stall(run, 2.0)
            stalls.append(stall)
            assert frames > 0 and steps > 0, (frames, steps)
        print(f"\nlongest stall in frames while actors were killed: {max(stalls):.2f} s")
        assert max(stalls) < 1.0, stalls
        # The runtime brings every actor back, and the slots held match exactly the live actors' envs.
        wait_for(lambda: all_streams_connected(run), timeout=60, what="all actors reconnected")
    finally:
        summary = run.stop()
    assert summary["actor_restarts"] >= kills and summary["learner_restarts"] == 0


def newest_checkpoint_frames(logdir: Path) -> int:
    metadata = sorted((logdir / "checkpoints").glob("ckpt-*.json"), key=lambda p: int(p.stem.split("-")[1]))
    return json.loads(metadata[-1].read_text())["frames"] if metadata else -1


def test_a_killed_learner_resumes_from_its_checkpoint_and_the_actors_reconnect(tmp_path):
    """SIGKILL the learner: it restarts from its newest checkpoint, counting frames from what that checkpoint
    holds (never less); the actors back off, reconnect, and training goes on."""
    run = start_run(tmp_path / "run", "--checkpoint.every-s", "1")
    try:
        wait_for(lambda: newest_checkpoint_frames(run.logdir) > 0, timeout=60, what="a checkpoint")
        before = run.status()
        os.kill(run.learner_pid(), signal.SIGKILL)
        checkpointed = newest_checkpoint_frames(run.logdir)
        assert 0 < checkpointed <= before.frames + 10_000
        wait_for(lambda: run.status() is None, timeout=10, what="the learner gone")
        resumed = wait_for(lambda: run.status(), timeout=120, what="the learner back")
        assert resumed.frames >= checkpointed
        wait_for(lambda: all_streams_connected(run), timeout=60, what="actors reconnected")
        wait_for(lambda: run.status().frames > resumed.frames + 1000, timeout=60, what="training resumed")
        assert run.status().learner_steps > 0
    finally:
        summary = run.stop()
    assert summary["learner_restarts"] == 1
    assert summary["frames"] >= checkpointed
