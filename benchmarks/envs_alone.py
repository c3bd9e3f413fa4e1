"""One actor process's env groups stepping random actions with no learner: the baseline rate.

Usage: python -m benchmarks.envs_alone --env atari:Pong --env-options '{"backend": "envpool"}' \
           --envs 64 --streams 2 --seconds 10 --seed 0
Prints the env steps per second of this process. Exits with status MISSING_PACKAGE (and the reason on
stderr) when the env family's package is not installed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import numpy as np

from benchmarks.cores import Cores, pinned_to
from seedrl.spec.actor import ActorConfig
from seedrl.envs.errors import MissingEnvPackage
from seedrl.spec.env import EnvOptions
from seedrl.actor.loop import make_groups
from seedrl.common.spaces import DiscreteSpace

MISSING_PACKAGE = 3  # exit status: the env family's package is not installed here


def run_envs_alone(
    actors: int, envs: int, streams: int, seconds: float, env: str = "gym:CartPole-v1", env_options: str = "{}",
    cores: Cores | None = None,
) -> float:
    """Env steps/s summed over `actors` concurrent processes of this benchmark, on `cores` (default: any).

    Raises:
      MissingEnvPackage: the env family's package is not installed (the message says which).
      RuntimeError: a process failed otherwise (the message ends with its last line of stderr).
    """
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "benchmarks.envs_alone", "--env", env, "--env-options", env_options,
             "--envs", str(envs), "--streams", str(streams), "--seconds", str(seconds), "--seed", str(i * envs)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=pinned_to(cores),
        )
        for i in range(actors)
    ]
    outputs = [p.communicate() for p in processes]
    for process, (_, stderr) in zip(processes, outputs):
        reason = stderr.strip().splitlines()[-1] if stderr.strip() else "no output"
        if process.returncode == MISSING_PACKAGE:
            raise MissingEnvPackage(reason)
        if process.returncode != 0:
            raise RuntimeError(f"benchmarks.envs_alone {env} {env_options} exited with {process.returncode}: {reason}")
    return sum(float(stdout) for stdout, _ in outputs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="gym:CartPole-v1")
    parser.add_argument("--env-options", default="{}", help="EnvOptions as JSON")
    parser.add_argument("--envs", type=int, default=64)
    parser.add_argument("--streams", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    options = EnvOptions.model_validate_json(args.env_options)
    config = ActorConfig(env=args.env, env_options=options, envs_per_actor=args.envs, streams=args.streams, seed=args.seed)
    try:
        groups = make_groups(config)
    except MissingEnvPackage as error:
        print(error, file=sys.stderr)
        sys.exit(MISSING_PACKAGE)
    rng = np.random.default_rng(args.seed)
    for group in groups:
        group.reset()
    action_space = groups[0].spec(args.env).action_space

    def random_actions(k: int) -> np.ndarray:
        if isinstance(action_space, DiscreteSpace):
            return rng.integers(0, action_space.n, size=k)
        return rng.uniform(action_space.low, action_space.high, size=(k, *action_space.shape)).astype(action_space.dtype)

    steps, started = 0, time.perf_counter()
    measuring_from = started + args.warmup
    while True:
        for group in groups:
            group.step(random_actions(len(group)))
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
