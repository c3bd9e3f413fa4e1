"""Data-path throughput on CartPole-v1, all measured in one run (ratios are what to compare):

  (a) the actor processes' raw env rate: the same processes and env groups stepping random actions, no learner;
  (b) the whole system's frame rate with an untrained policy (learner serves inference only);
  (c) the whole system's frame rate while training V-trace;
  (d) b / a, the share of the env rate the framework keeps (and c / a).

Usage: python -m benchmarks.throughput [--seconds 10] [--configs 2x64 4x32]
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys

from benchmarks.system import measure_inference_only, measure_train


def envs_alone(actors: int, envs: int, streams: int, seconds: float) -> float:
    """Env steps/s summed over `actors` concurrent processes stepping random actions."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "benchmarks.envs_alone", "--envs", str(envs), "--streams", str(streams),
             "--seconds", str(seconds), "--seed", str(i * envs)],
            stdout=subprocess.PIPE, text=True,
        )
        for i in range(actors)
    ]
    return sum(float(p.communicate()[0]) for p in processes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measuring window of each figure")
    parser.add_argument("--configs", nargs="*", default=["2x64", "4x32"], help="ACTORSxENVS_PER_ACTOR")
    parser.add_argument("--streams", type=int, default=2, help="streams (env groups) per actor")
    args = parser.parse_args()
    print(f"# seedrl throughput, CartPole-v1, {platform.machine()} with {subprocess.getoutput('nproc')} cores\n")
    print("| actors x envs | (a) envs alone, steps/s | (b) untrained policy, FPS | (c) training V-trace, FPS "
          "| learner steps/s | (d) b/a | c/a |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for config in args.configs:
        actors, envs = (int(x) for x in config.split("x"))
        common = ["--actors", str(actors), "--envs-per-actor", str(envs), "--streams-per-actor", str(args.streams)]
        a = envs_alone(actors, envs, args.streams, args.seconds)
        b = measure_inference_only(["--env", "gym:CartPole-v1"], ["--env", "gym:CartPole-v1", "--streams", str(args.streams)],
                                   actors, envs, args.seconds)
        c = measure_train(common, args.seconds)
        print(f"| {actors} x {envs} | {a:,.0f} | {b.fps:,.0f} | {c.fps:,.0f} | {c.learner_steps_per_s:,.1f} "
              f"| {b.fps / a:.3f} | {c.fps / a:.3f} |", flush=True)


if __name__ == "__main__":
    main()
