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
from pathlib import Path

README_ARGS = ["--env", "gym:CartPole-v1", "--agent", "vtrace", "--actors", "2", "--envs-per-actor", "16",
               "--total-frames", "3000000", "--stop-at-return", "475"]


def train_once(train_args: list[str], seed: int, max_seconds: float) -> tuple[dict, float]:
    """One `seedrl train` run from an empty run folder: its summary.json and the process's wall time (s)."""
    with tempfile.TemporaryDirectory() as logdir:
        started = time.monotonic()
        subprocess.run(
            [sys.executable, "-m", "seedrl.cli", "train", *train_args, "--seed", str(seed),
             "--max-seconds", str(max_seconds), "--logdir", logdir],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wall = time.monotonic() - started
        return json.loads((Path(logdir) / "summary.json").read_text()), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-seconds", type=float, default=180.0)
    args, extra = parser.parse_known_args()
    print("| run | seed | solved at (s) | process wall (s) | frames | FPS (run average) |")
    print("|---|---:|---:|---:|---:|---:|")
    solved = []
    for run in range(args.runs):
        summary, wall = train_once([*README_ARGS, *extra], seed=run, max_seconds=args.max_seconds)
        at = summary["solved_at_seconds"]
        if at is not None:
            solved.append(at)
        print(f"| {run} | {run} | {at if at is not None else 'not solved'} | {wall:.1f} | {summary['frames']:,} "
              f"| {summary['fps']:,.0f} |", flush=True)
    if solved:
        print(f"\nsolved {len(solved)}/{args.runs}; median time to a mean return of 475: {statistics.median(solved):.1f} s")


if __name__ == "__main__":
    main()
