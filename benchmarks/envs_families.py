"""Actor-side env steps/s per family, every backend at the same env count, in one run.

Each row is one actor process stepping random actions with no learner (benchmarks.envs_alone,
SEED's preprocessing and frame stacking included); the ratio compares a backend with the first
one measured for the same env.

Usage: python -m benchmarks.envs_families [--envs 8] [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess

from benchmarks.envs_alone import run_envs_alone

CASES = [
    ("atari:Pong", {"backend": "ale"}),
    ("atari:Pong", {"backend": "envpool"}),
    ("football:academy_empty_goal_close", {"backend": "envpool"}),
    ("mujoco:HalfCheetah-v5", {}),
    ("gym:CartPole-v1", {}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", type=int, default=8, help="envs of the actor process (one stream)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measuring window of each row")
    args = parser.parse_args()
    print(f"# env steps/s of one actor process, {args.envs} envs, {platform.machine()} with "
          f"{subprocess.getoutput('nproc')} cores\n")
    print("| env | options | steps/s | vs first backend |")
    print("|---|---|---:|---:|")
    baseline: dict[str, float] = {}
    for env, options in CASES:
        rate = run_envs_alone(1, args.envs, 1, args.seconds, env, json.dumps(options))
        baseline.setdefault(env, rate)
        print(f"| {env} | {json.dumps(options)} | {rate:,.0f} | {rate / baseline[env]:.2f} |", flush=True)


if __name__ == "__main__":
    main()
