"""Sample Factory 2.1 (APPO) as a peer: run it on a task, read its progress, stop it at a return or a time limit.

Sample Factory's runner logs every 5 s

    Fps is (10 sec: 9216.3, 60 sec: ..., 300 sec: ...). Total num frames: 409600. Throughput: ...
    Avg episode reward: [(0, '475.210')]

where the frames are env frames (Atari: emulator frames, 4 per agent step) and the reward the mean of the
last `--stats_avg` (100) episodes. Each line is stamped with the seconds since the process was launched, as
`seedrl train` counts its time to solve: process start and imports included.
"""

from __future__ import annotations

import math
import os
import re
import selectors
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.peers.venv import peer_python

FRAMES = re.compile(r"Total num frames: (\d+)\.")
REWARD = re.compile(r"Avg episode reward: \[\(0, '(-?[\d.]+|nan)'\)\]")


@dataclass(frozen=True)
class Task:
    """A Sample Factory task: the module whose `main` trains, its arguments, the mean return counted as solved
    (None: never), and modules every process of the run imports first (Sample Factory's workers are spawned
    processes, so they are imported from a `sitecustomize` on their PYTHONPATH)."""

    name: str
    module: str
    args: tuple[str, ...]
    solve_return: float | None
    imports: tuple[str, ...] = ()


# The training settings of the CartPole command in `sf_examples/train_gym_env.py`'s docstring (an MLP policy, no
# RNN, batch 512, rewards x 0.1, 2 policy workers), on 2 workers x 20 envs; its save and summary intervals are
# left at Sample Factory's defaults.
CARTPOLE = Task("CartPole-v1", "sf_examples.train_gym_env", (
    "--env", "CartPole-v1", "--algo", "APPO", "--use_rnn", "False", "--recurrence", "1", "--with_vtrace", "False",
    "--batch_size", "512", "--reward_scale", "0.1", "--policy_workers_per_policy", "2",
    "--num_workers", "2", "--num_envs_per_worker", "20",
), 475.0)
# Sample Factory's Atari defaults (PPO's loss, its Nature-style `convnet_atari`, frame skip 4 and stack 4) on
# 2 workers x 16 envs, as many envs as seedrl's Pong runs, sampling asynchronously (APPO; its synchronous default
# needs the envs x rollout to divide its training batch); `import ale_py` registers PongNoFrameskip-v4 with
# gymnasium 0.29.
PONG = Task("atari_pong", "sf_examples.atari.train_atari",
            ("--env", "atari_pong", "--num_workers", "2", "--num_envs_per_worker", "16", "--async_rl", "True"), None,
            imports=("ale_py",))


@dataclass
class Progress:
    """What a run reported: (seconds since launch, total frames) and (seconds, mean return) points."""

    frames: list[tuple[float, int]] = field(default_factory=list)
    returns: list[tuple[float, float]] = field(default_factory=list)

    def read(self, seconds: float, line: str) -> None:
        if match := FRAMES.search(line):
            self.frames.append((seconds, int(match.group(1))))
        elif (match := REWARD.search(line)) and match.group(1) != "nan":
            self.returns.append((seconds, float(match.group(1))))

    def frames_at(self, seconds: float) -> int:
        """Total frames of the last report at or before `seconds` (0 before the first)."""
        return max((frames for at, frames in self.frames if at <= seconds), default=0)

    def solved_at(self, solve_return: float) -> float | None:
        """Seconds since launch of the first report of a mean return >= `solve_return`."""
        return next((at for at, value in self.returns if value >= solve_return), None)

    def first_frames(self) -> float | None:
        """Seconds since launch of the first report of frames."""
        return next((at for at, frames in self.frames if frames > 0), None)

    def longest_stall(self) -> float | None:
        """The longest time in seconds without more frames, from the first frames to the last report (None
        before two reports)."""
        first = self.first_frames()
        if first is None:
            return None
        grew = [at for (at, frames), (_, before) in zip(self.frames[1:], self.frames) if frames > before and at > first]
        points = [first, *grew, self.frames[-1][0]]
        return max(later - earlier for earlier, later in zip(points, points[1:]))

    def rate(self, start: float, end: float) -> float | None:
        """Frames per second between the first report at or after `start` and the last at or before `end`."""
        window = [(at, frames) for at, frames in self.frames if start <= at <= end]
        if len(window) < 2 or window[-1][0] <= window[0][0]:
            return None
        return (window[-1][1] - window[0][1]) / (window[-1][0] - window[0][0])


@dataclass(frozen=True)
class PeerRun:
    """One run: when it stopped (seconds since launch), what it reported, and its command's exit status."""

    task: Task
    seconds: float
    progress: Progress
    returncode: int | None

    @property
    def time_to_solve(self) -> float | None:
        return None if self.task.solve_return is None else self.progress.solved_at(self.task.solve_return)

    @property
    def frames_to_solve(self) -> int | None:
        at = self.time_to_solve
        return None if at is None else self.progress.frames_at(at)

    @property
    def fps(self) -> float:
        """Frames of the last report over the seconds since launch: the run average, start-up included."""
        if not self.progress.frames:
            return 0.0
        at, frames = self.progress.frames[-1]
        return frames / at

    @property
    def training_fps(self) -> float | None:
        """Frames per second from the first report of frames to the last: the rate once training runs, start-up
        left out (None before two reports)."""
        first = self.progress.first_frames()
        return None if first is None else self.progress.rate(first, math.inf)

    @property
    def best_return(self) -> float | None:
        return max((value for _, value in self.progress.returns), default=None)


def command(python: Path, task: Task, seed: int, train_dir: Path, frames: int) -> list[str]:
    run = f"import sys; from {task.module} import main; sys.exit(main())"
    return [str(python), "-c", run, *task.args, "--experiment", "peer", "--train_dir", str(train_dir),
            "--device", "cpu", "--seed", str(seed), "--train_for_env_steps", str(frames)]


def run_peer(
    task: Task, seed: int, max_seconds: float, until: Callable[[Progress], bool] | None = None,
    frames: int = 100_000_000, python: Path | None = None,
) -> PeerRun:
    """One run of `task` from an empty train folder until `until(progress)` holds (default: it reports a mean
    return of `task.solve_return`), it has trained `frames` env frames or `max_seconds` have passed; then it
    is stopped, its worker processes too."""
    python = python or peer_python()
    if until is None:
        until = solved(task)
    with tempfile.TemporaryDirectory() as folder:
        started = time.monotonic()
        process = subprocess.Popen(
            command(python, task, seed, Path(folder) / "train", frames), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, errors="replace", start_new_session=True,
            env=environment(task, Path(folder) / "site"),
        )
        progress = Progress()
        try:
            for seconds, line in lines(process, started, max_seconds):
                progress.read(seconds, line)
                if until(progress):
                    break
        finally:
            seconds = time.monotonic() - started
            returncode = stop(process)
    return PeerRun(task, seconds, progress, returncode)


def environment(task: Task, site: Path) -> dict[str, str]:
    """This process's environment, with a `sitecustomize` in `site` importing `task.imports` on PYTHONPATH."""
    env = dict(os.environ)
    if task.imports:
        site.mkdir()
        (site / "sitecustomize.py").write_text("".join(f"import {module}\n" for module in task.imports))
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    return env


def solved(task: Task) -> Callable[[Progress], bool]:
    """Whether a run of `task` has reported its solve return (never, for a task without one)."""
    return lambda progress: task.solve_return is not None and progress.solved_at(task.solve_return) is not None


def lines(process: subprocess.Popen, started: float, max_seconds: float) -> Iterator[tuple[float, str]]:
    """The process's output lines with the seconds since `started` they arrived at, until it exits or time is up."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while (left := max_seconds - (time.monotonic() - started)) > 0:
            if not selector.select(timeout=min(left, 1.0)):
                continue
            line = process.stdout.readline()
            if not line:
                return  # exited
            yield time.monotonic() - started, line


def stop(process: subprocess.Popen, grace_s: float = 20.0) -> int | None:
    """SIGINT the run's whole process group (its workers too), SIGKILL what is left after `grace_s`; the exit
    status (None if it had to be killed)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(grace_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return None
    try:
        os.killpg(process.pid, signal.SIGKILL)  # workers that outlived the runner
    except ProcessLookupError:
        pass
    return process.returncode


def window_fps(task: Task, seed: int, warmup_s: float, window_s: float, start_timeout_s: float = 180.0,
               python: Path | None = None) -> float | None:
    """Frames/s over `window_s` s that start `warmup_s` s after the first frames (None if it never got there)."""

    def window_done(progress: Progress) -> bool:
        first = progress.first_frames()
        return first is not None and progress.frames[-1][0] >= first + warmup_s + window_s

    run = run_peer(task, seed, start_timeout_s + warmup_s + window_s, until=window_done, python=python)
    first = run.progress.first_frames()
    return None if first is None else run.progress.rate(first + warmup_s, first + warmup_s + window_s)


def describe(task: Task) -> str:
    return " ".join(["python -m", task.module, *task.args, "--device cpu"])

