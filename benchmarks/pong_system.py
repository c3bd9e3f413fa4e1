"""Framework overhead at Atari's step cost: Pong with SEED's preprocessing, in one run:

  (a) the actor processes stepping their envs alone (random actions, no learner);
  (b) the whole system with a trivial policy served by the learner (`seedrl learner --inference-only`, a 16-unit MLP):
      every step goes to the learner over gRPC, is batched, inferred and answered;
  (c) b / a, the share of the env rate the framework keeps (target >= 0.8).

Usage: python -m benchmarks.pong_system [--actors 2] [--envs 16] [--backend envpool] [--seconds 15]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess

from benchmarks.envs_alone import run_envs_alone
from benchmarks.system import measure_inference_only


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actors", type=int, default=2)
    parser.add_argument("--envs", type=int, default=16, help="envs per actor")
    parser.add_argument("--streams", type=int, default=2, help="streams (env groups) per actor")
    parser.add_argument("--backend", default="envpool", choices=["envpool", "ale"])
    parser.add_argument("--seconds", type=float, default=15.0, help="measuring window of each figure")
    args = parser.parse_args()
    options = json.dumps({"backend": args.backend})
    alone = run_envs_alone(args.actors, args.envs, args.streams, args.seconds, "atari:Pong", options)
    env = ["--env", "atari:Pong", "--env-options.backend", args.backend]
    system = measure_inference_only(
        [*env, "--network.torso", "mlp", "--network.hidden-sizes", "16"], [*env, "--streams", str(args.streams)],
        args.actors, args.envs, args.seconds,
    )
    # Pong's frames are 4 emulator frames per agent step: compare agent steps.
    steps = system.fps / 4
    print(f"# Pong ({args.backend}), {args.actors} actors x {args.envs} envs, {platform.machine()} with "
          f"{subprocess.getoutput('nproc')} cores\n")
    print("| (a) envs alone, steps/s | (b) system, trivial policy, steps/s | (b) frames/s | (c) b/a |")
    print("|---:|---:|---:|---:|")
    print(f"| {alone:,.0f} | {steps:,.0f} | {system.fps:,.0f} | {steps / alone:.3f} |")


if __name__ == "__main__":
    main()
