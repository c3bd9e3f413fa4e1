"""Framework overhead at Atari's step cost: Pong with SEED's preprocessing, in one run, in two layouts:

  (a) the actor processes stepping their envs alone (random actions, no learner);
  (b) the whole system with a trivial policy served by the learner (`seedrl learner --inference-only`, a 16-unit MLP):
      every step goes to the learner over gRPC, is batched, inferred and answered;
  (c) b / a, the share of the env rate the framework keeps (target >= 0.8).

Layouts: `shared`, every process on every core (a laptop); `dedicated`, the learner on the last
`--learner-cores` cores and the actors on the others, in (a) as in (b) (a deployment, where the
learner has a node of its own: benchmarks.cores).

Usage: python -m benchmarks.pong_system [--actors 2] [--envs 16] [--backend envpool] [--seconds 15]
           [--layouts shared dedicated] [--learner-cores N]
"""

from __future__ import annotations

import argparse
import json
import platform

from benchmarks.cores import Cores, available_cores, split_cores
from benchmarks.envs_alone import run_envs_alone
from benchmarks.system import measure_inference_only

LAYOUTS = ("shared", "dedicated")


def measure_layout(
    args: argparse.Namespace, actor_cores: Cores | None, learner_cores: Cores | None
) -> tuple[float, float]:
    """(a) and (b) of one layout, in agent steps/s (Pong's frames are 4 emulator frames per agent step)."""
    options = json.dumps({"backend": args.backend})
    alone = run_envs_alone(args.actors, args.envs, args.streams, args.seconds, "atari:Pong", options, actor_cores)
    env = ["--env", "atari:Pong", "--env-options.backend", args.backend]
    system = measure_inference_only(
        [*env, "--network.torso", "mlp", "--network.hidden-sizes", "16"], [*env, "--streams", str(args.streams)],
        args.actors, args.envs, args.seconds, learner_cores=learner_cores, actor_cores=actor_cores,
    )
    return alone, system.fps / 4


def describe(cores: Cores | None) -> str:
    return "all" if cores is None else ",".join(str(c) for c in sorted(cores))


def main() -> None:
    cores = available_cores()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actors", type=int, default=2)
    parser.add_argument("--envs", type=int, default=16, help="envs per actor")
    parser.add_argument("--streams", type=int, default=2, help="streams (env groups) per actor")
    parser.add_argument("--backend", default="envpool", choices=["envpool", "ale"])
    parser.add_argument("--seconds", type=float, default=15.0, help="measuring window of each figure")
    parser.add_argument("--layouts", nargs="+", default=list(LAYOUTS), choices=LAYOUTS)
    parser.add_argument("--learner-cores", type=int, default=max(1, len(cores) // 4),
                        help="cores of the learner in the dedicated layout (default: a quarter, at least 1)")
    args = parser.parse_args()
    layouts: list[tuple[str, Cores | None, Cores | None]] = []
    for layout in args.layouts:
        if layout == "shared":
            layouts.append((layout, None, None))
        elif len(cores) < 2:
            print(f"dedicated layout skipped: this process may use {len(cores)} core")
        else:
            layouts.append((layout, *split_cores(args.learner_cores, cores)))
    print(f"# Pong ({args.backend}), {args.actors} actors x {args.envs} envs, {platform.machine()} with "
          f"{len(cores)} cores\n")
    print("| layout | actor cores | learner cores | (a) envs alone, steps/s | (b) system, trivial policy, steps/s "
          "| (b) frames/s | (c) b/a |")
    print("|---|---|---|---:|---:|---:|---:|")
    for layout, actor_cores, learner_cores in layouts:
        alone, steps = measure_layout(args, actor_cores, learner_cores)
        print(f"| {layout} | {describe(actor_cores)} | {describe(learner_cores)} | {alone:,.0f} | {steps:,.0f} "
              f"| {steps * 4:,.0f} | {steps / alone:.3f} |", flush=True)


if __name__ == "__main__":
    main()
