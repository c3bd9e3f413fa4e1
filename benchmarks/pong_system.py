"""Framework overhead at Atari's step cost: Pong with SEED's preprocessing, in one run, in two layouts:

  (a) the actor processes stepping their envs alone (random actions, no learner);
  (b) the whole system with an untrained policy served by the learner (`seedrl learner --inference-only`) with
      the IMPALA deep ResNet (`--torso`): every step goes to the learner over gRPC, is batched, inferred and
      answered;
  (c) b / a, the share of the env rate the framework keeps.

Layouts: `shared`, every process on every core: (a) is the whole machine's env rate, and (c) the share of it the
system keeps; `dedicated`, the learner on the last `--learner-cores` cores and the actors on the others, in (a)
as in (b): (c) is then the actors' share of their own cores' env rate with the learner's work elsewhere, as where
the learner is a pod on a node of its own (benchmarks.cores). It is not the machine's overhead: the learner's
cores step no envs.

Usage: python -m benchmarks.pong_system [--actors 2] [--envs 16] [--backend envpool] [--seconds 15]
           [--layouts shared dedicated] [--learner-cores N] [--torso impala]
"""

from __future__ import annotations

import argparse
import json
import platform

from benchmarks.cores import Cores, available_cores, split_cores
from benchmarks.envs_alone import run_envs_alone
from benchmarks.system import measure_inference_only

LAYOUTS = ("shared", "dedicated")


DEFAULTS = {"actors": 2, "envs": 16, "streams": 2, "backend": "envpool", "torso": "impala"}


def measure_layout(
    seconds: float, actor_cores: Cores | None = None, learner_cores: Cores | None = None, actors: int = 2,
    envs: int = 16, streams: int = 2, backend: str = "envpool", torso: str = "impala",
) -> tuple[float, float]:
    """(a) and (b) of one layout, in agent steps/s (Pong's frames are 4 emulator frames per agent step)."""
    options = json.dumps({"backend": backend})
    alone = run_envs_alone(actors, envs, streams, seconds, "atari:Pong", options, actor_cores)
    env = ["--env", "atari:Pong", "--env-options.backend", backend]
    system = measure_inference_only(
        [*env, "--network.torso", torso], [*env, "--streams", str(streams)],
        actors, envs, seconds, learner_cores=learner_cores, actor_cores=actor_cores,
    )
    return alone, system.fps / 4


def dedicated_cores(learner_cores: int) -> tuple[Cores, Cores] | None:
    """(actor cores, learner cores) of the dedicated layout; None on a machine with fewer than 2 cores."""
    cores = available_cores()
    return split_cores(learner_cores, cores) if len(cores) >= 2 else None


def describe(cores: Cores | None) -> str:
    return "all" if cores is None else ",".join(str(c) for c in sorted(cores))


def main() -> None:
    cores = available_cores()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actors", type=int, default=DEFAULTS["actors"])
    parser.add_argument("--envs", type=int, default=DEFAULTS["envs"], help="envs per actor")
    parser.add_argument("--streams", type=int, default=DEFAULTS["streams"], help="streams (env groups) per actor")
    parser.add_argument("--backend", default=DEFAULTS["backend"], choices=["envpool", "ale"])
    parser.add_argument("--torso", default=DEFAULTS["torso"], choices=["impala", "nature", "mlp"],
                        help="the learner's network (untrained)")
    parser.add_argument("--seconds", type=float, default=15.0, help="measuring window of each figure")
    parser.add_argument("--layouts", nargs="+", default=list(LAYOUTS), choices=LAYOUTS)
    parser.add_argument("--learner-cores", type=int, default=max(1, len(cores) // 4),
                        help="cores of the learner in the dedicated layout (default: a quarter, at least 1)")
    args = parser.parse_args()
    layouts: list[tuple[str, Cores | None, Cores | None]] = []
    for layout in args.layouts:
        if layout == "shared":
            layouts.append((layout, None, None))
        elif (split := dedicated_cores(args.learner_cores)) is None:
            print(f"dedicated layout skipped: this process may use {len(cores)} core")
        else:
            layouts.append((layout, *split))
    print(f"# Pong ({args.backend}), {args.actors} actors x {args.envs} envs, {args.torso} network, "
          f"{platform.machine()} with {len(cores)} cores\n")
    print("| layout | actor cores | learner cores | (a) envs alone, steps/s | (b) system, untrained policy, steps/s "
          "| (b) frames/s | (c) b/a |")
    print("|---|---|---|---:|---:|---:|---:|")
    for layout, actor_cores, learner_cores in layouts:
        alone, steps = measure_layout(args.seconds, actor_cores, learner_cores, args.actors, args.envs, args.streams,
                                      args.backend, args.torso)
        print(f"| {layout} | {describe(actor_cores)} | {describe(learner_cores)} | {alone:,.0f} | {steps:,.0f} "
              f"| {steps * 4:,.0f} | {steps / alone:.3f} |", flush=True)


if __name__ == "__main__":
    main()
