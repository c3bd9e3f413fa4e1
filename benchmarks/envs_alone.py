"""One actor process's env groups stepping random actions with no learner: the baseline rate.

Usage: python -m benchmarks.envs_alone --envs 64 --streams 2 --seconds 10 --seed 0
Prints the env steps per second of this process.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from seedrl.actor.config import ActorConfig
from seedrl.actor.loop import make_groups


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="gym:CartPole-v1")
    parser.add_argument("--envs", type=int, default=64)
    parser.add_argument("--streams", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    groups = make_groups(ActorConfig(env=args.env, envs_per_actor=args.envs, streams=args.streams, seed=args.seed))
    rng = np.random.default_rng(args.seed)
    for group in groups:
        group.reset()
    num_actions = groups[0].spec(args.env).action_space.n
    steps, started = 0, time.perf_counter()
    measuring_from = started + args.warmup
    while True:
        for group in groups:
            group.step(rng.integers(0, num_actions, size=len(group)))
        now = time.perf_counter()
        if now < measuring_from:
            continue
        if steps == 0:
            started = now
        steps += args.envs
        if now - started >= args.seconds:
            break
    print(steps / (time.perf_counter() - started))


if __name__ == "__main__":
    main()
