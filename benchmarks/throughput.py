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

from benchmarks.envs_alone import run_envs_alone
from benchmarks.system import measure_inference_only, measure_train


def measure_config(actors: int, envs: int, streams: int, seconds: float) -> dict[str, float]:
    """(a), (b) and (c) of one actors x envs configuration, each over a `seconds` window, and their ratios.

    Keys: envs_alone (steps/s), untrained_fps, training_fps, learner_steps_per_s, untrained_ratio (b/a),
    training_ratio (c/a).
    """
    common = ["--actors", str(actors), "--envs-per-actor", str(envs), "--streams-per-actor", str(streams)]
    alone = run_envs_alone(actors, envs, streams, seconds)
    untrained = measure_inference_only(
        ["--env", "gym:CartPole-v1"], ["--env", "gym:CartPole-v1", "--streams", str(streams)], actors, envs, seconds
    )
    training = measure_train(common, seconds)
    return {
        "envs_alone": alone, "untrained_fps": untrained.fps, "training_fps": training.fps,
        "learner_steps_per_s": training.learner_steps_per_s,
        "untrained_ratio": untrained.fps / alone, "training_ratio": training.fps / alone,
    }


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
        f = measure_config(actors, envs, args.streams, args.seconds)
        print(f"| {actors} x {envs} | {f['envs_alone']:,.0f} | {f['untrained_fps']:,.0f} | {f['training_fps']:,.0f} "
              f"| {f['learner_steps_per_s']:,.1f} | {f['untrained_ratio']:.3f} | {f['training_ratio']:.3f} |",
              flush=True)


if __name__ == "__main__":
    main()
