"""A short V-trace run on Atari Pong on CPU (IMPALA deep ResNet, SEED's preprocessing): does the
mean return rise above random play (-20.7) within the frame budget?

Prints the run's progress lines and its summary; the run folder keeps TensorBoard curves
(`seedrl plot RUN -o pong.png`). The full-length result belongs to a GPU learner (examples/pong.yaml).

Usage: python -m benchmarks.pong_learning [--frames 2000000] [--actors 2] [--envs 16] [--logdir runs/pong-cpu]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

CPU_BATCH_SIZE = 8
UNROLL_LENGTH = 20


def pong_args(actors: int, envs: int, batch_size: int) -> list[str]:
    """`seedrl train` flags of V-trace on Pong with the IMPALA deep ResNet, rewards clipped (examples/pong.yaml's
    learning rate, entropy cost and unroll length), `batch_size` unrolls per learner step."""
    return [
        "--env", "atari:Pong", "--agent", "vtrace", "--network.torso", "impala", "--vtrace.reward-clipping", "abs_one",
        "--vtrace.learning-rate", "0.0006", "--vtrace.entropy-cost", "0.01", "--vtrace.batch-size", str(batch_size),
        "--vtrace.unroll-length", str(UNROLL_LENGTH), "--actors", str(actors), "--envs-per-actor", str(envs),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=2_000_000, help="frame budget (emulator frames)")
    parser.add_argument("--actors", type=int, default=2)
    parser.add_argument("--envs", type=int, default=16, help="envs per actor")
    parser.add_argument("--target", type=float, default=-19.0, help="stop early at this mean return (100 episodes)")
    parser.add_argument("--logdir", default="runs/pong-cpu")
    args = parser.parse_args()
    command = [
        sys.executable, "-m", "seedrl.cli", "train", *pong_args(args.actors, args.envs, CPU_BATCH_SIZE),
        "--total-frames", str(args.frames), "--stop-at-return", str(args.target), "--logdir", args.logdir,
    ]
    print(" ".join(command[2:]), flush=True)
    subprocess.run(command, check=True)
    summary = json.loads((Path(args.logdir) / "summary.json").read_text())
    print(f"\nPong on CPU: mean return {summary['mean_return_100']:.2f} over the last 100 episodes after "
          f"{summary['frames']:,} frames in {summary['wall_seconds']:.0f} s ({summary['fps']:,.0f} FPS); "
          f"random play scores -20.7 (Mnih et al. 2015)")


if __name__ == "__main__":
    main()
