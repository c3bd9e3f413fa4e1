"""Wall time of `seedrl train` (the README's command) to a CartPole-v1 mean return of 475.

Each run starts from an empty run folder, so the time includes starting the learner
(TensorFlow import) and the actors. Usage: python -m benchmarks.time_to_solve [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from seedrl.common import metrics as m
from seedrl.common.run_folder import RunFolder
from seedrl.plots.runs import EVENT_FILES, read_scalars

README_ARGS = ["--env", "gym:CartPole-v1", "--agent", "vtrace", "--actors", "2", "--envs-per-actor", "16",
               "--total-frames", "3000000", "--stop-at-return", "475"]
FULL_WINDOW = 100  # episodes in the mean return that counts as solved


def with_flag(args: list[str], flag: str, value: object) -> list[str]:
    """`args` with the value that follows `flag` replaced by `value` (ValueError if `flag` is not there)."""
    at = args.index(flag) + 1
    return [*args[:at], str(value), *args[at + 1:]]


@dataclass(frozen=True)
class TrainRun:
    """One `seedrl train` run: its summary.json, the process's wall time (s), the highest mean return of
    the last 100 episodes among the run's TensorBoard summaries (None if it never finished 100 episodes),
    the longest time between two of its summaries (s; a stalled learner writes none), its frames/s after
    start-up (`training_fps`), and what the caller's `inspect` read from the run folder before it was deleted."""

    summary: dict
    wall_seconds: float
    best_mean_return: float | None
    longest_stall: float | None = None
    training_fps: float | None = None
    details: dict = field(default_factory=dict)


class TrainFailed(RuntimeError):
    """`seedrl train` exited with an error; the message ends with the learner log's last line."""


def train_once(
    train_args: list[str], seed: int, max_seconds: float, inspect: Callable[[Path], dict] | None = None
) -> TrainRun:
    """One `seedrl train` run from an empty run folder, stopped after `max_seconds` at the latest;
    `inspect(run folder)` reads more from the folder before it is deleted."""
    with tempfile.TemporaryDirectory() as logdir:
        folder = RunFolder(Path(logdir))
        started = time.monotonic()
        process = subprocess.run(
            [sys.executable, "-m", "seedrl.cli", "train", *train_args, "--seed", str(seed),
             "--max-seconds", str(max_seconds), "--logdir", logdir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wall = time.monotonic() - started
        if process.returncode != 0:
            log = folder.logs / "learner.log"
            lines = log.read_text().strip().splitlines() if log.exists() else []
            raise TrainFailed(f"seedrl train exited with {process.returncode}; the learner's log ends: "
                              f"{lines[-1] if lines else '(no log)'}")
        summary = json.loads(folder.summary.read_text())
        details = inspect(folder.path) if inspect is not None else {}
        return TrainRun(summary, wall, best_mean_return(folder.path), longest_stall(folder.path),
                        training_fps(folder.path), details)


def best_mean_return(logdir: Path) -> float | None:
    """The highest mean return of 100 episodes the learner summarised in the run folder `logdir`."""
    files = sorted(RunFolder(logdir).tensorboard.glob(EVENT_FILES))
    scalars = read_scalars(files, (m.EPISODE_RETURN.name, m.EPISODES.name))
    if m.EPISODE_RETURN.name not in scalars or m.EPISODES.name not in scalars:
        return None
    returns, episodes = scalars[m.EPISODE_RETURN.name], scalars[m.EPISODES.name]
    _, at_return, at_episodes = np.intersect1d(returns.steps, episodes.steps, assume_unique=True, return_indices=True)
    full = episodes.values[at_episodes] >= FULL_WINDOW
    return float(returns.values[at_return][full].max()) if full.any() else None


def frame_summaries(logdir: Path) -> tuple[np.ndarray, np.ndarray]:
    """The wall times [N] and env frames [N] of the learner's frame summaries in the run folder `logdir`, in
    the order they were written (N = 0 without any)."""
    files = sorted(RunFolder(logdir).tensorboard.glob(EVENT_FILES))
    frames = read_scalars(files, (m.ENV_FRAMES.name,)).get(m.ENV_FRAMES.name)
    if frames is None:
        return np.zeros(0), np.zeros(0)
    order = np.argsort(frames.wall_times)
    return frames.wall_times[order], frames.values[order]


def launch_fps(summary: dict) -> float:
    """Frames per second from launch to the run's last progress report, as a peer's log gives it: the frames
    of the status at which `seedrl train` saw the solve over its seconds from launch; for a run that did not
    solve, the summary's `fps` (its frames over the command's wall time, shutdown included)."""
    if summary.get("solved_at_seconds") and summary.get("solved_at_frames") is not None:
        return summary["solved_at_frames"] / summary["solved_at_seconds"]
    return summary["fps"]


def training_fps(logdir: Path) -> float | None:
    """Frames per second from the first summary of the run folder `logdir` that counts frames to its last: the
    rate once training runs, start-up (imports, the first traces, actors connecting) left out; None with fewer
    than two such summaries."""
    times, counts = frame_summaries(logdir)
    counting = counts > 0
    times, counts = times[counting], counts[counting]
    if len(times) < 2 or times[-1] <= times[0]:
        return None
    return float((counts[-1] - counts[0]) / (times[-1] - times[0]))


def longest_stall(logdir: Path) -> float | None:
    """The longest time in seconds between two consecutive summaries of the run folder `logdir` (the learner
    writes one every few seconds while it trains); None with fewer than two."""
    times, _ = frame_summaries(logdir)
    return float(np.diff(times).max()) if len(times) >= 2 else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-seconds", type=float, default=180.0)
    args, extra = parser.parse_known_args()
    print("| run | seed | solved at (s) | process wall (s) | frames | FPS (run average) |")
    print("|---|---:|---:|---:|---:|---:|")
    solved = []
    for run in range(args.runs):
        result = train_once([*README_ARGS, *extra], seed=run, max_seconds=args.max_seconds)
        summary, wall = result.summary, result.wall_seconds
        at = summary["solved_at_seconds"]
        if at is not None:
            solved.append(at)
        print(f"| {run} | {run} | {at if at is not None else 'not solved'} | {wall:.1f} | {summary['frames']:,} "
              f"| {summary['fps']:,.0f} |", flush=True)
    if solved:
        print(f"\nsolved {len(solved)}/{args.runs}; median time to a mean return of 475: {statistics.median(solved):.1f} s")


if __name__ == "__main__":
    main()
