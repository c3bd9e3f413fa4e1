"""Actor-side env steps/s per family, every backend at the same env count, in one run.

Each row is one actor process stepping random actions with no learner (benchmarks.envs_alone,
SEED's preprocessing and frame stacking included); the ratio compares a backend with the first
one measured for the same env. A family whose package is not installed here is listed as skipped,
with the reason.

Usage: python -m benchmarks.envs_families [--envs 8] [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess

from benchmarks.envs_alone import run_envs_alone
from seedrl.envs.errors import MissingEnvPackage

CASES = [
    ("atari:Pong", {"backend": "ale"}),
    ("atari:Pong", {"backend": "envpool"}),
    ("football:academy_empty_goal_close", {"backend": "envpool"}),
    ("football:academy_empty_goal_close", {"backend": "gfootball"}),
    ("mujoco:HalfCheetah-v5", {}),
    ("gym:CartPole-v1", {}),
    ("dmlab:explore_goal_locations_small", {}),
]


def case_label(env: str, options: dict[str, str]) -> str:
    """`atari:Pong (ale)`: the env and, where given, its backend."""
    return f"{env} ({options['backend']})" if "backend" in options else env


def case_rate(env: str, options: dict[str, str], envs: int, seconds: float) -> float:
    """Env steps/s of one actor process of `envs` envs in one stream; MissingEnvPackage when not installed."""
    return run_envs_alone(1, envs, 1, seconds, env, json.dumps(options))


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
        try:
            rate = case_rate(env, options, args.envs, args.seconds)
        except MissingEnvPackage as error:
            print(f"| {env} | {json.dumps(options)} | skipped: {error} | - |", flush=True)
            continue
        baseline.setdefault(env, rate)
        print(f"| {env} | {json.dumps(options)} | {rate:,.0f} | {rate / baseline[env]:.2f} |", flush=True)


if __name__ == "__main__":
    main()
