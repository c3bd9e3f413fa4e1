"""Prioritized replay throughput and replay agents' train steps/s on CPU, each with a baseline from the same run.

  (a) replay insert and sample rates (unrolls/s) at 100k and 1M capacity, against a plain numpy copy of the same
      rows into a preallocated array (insert) and a uniform random gather of the same rows (sample);
  (b) learner train steps/s of R2D2 and SAC (the learning tests' configurations), against V-trace's default.

Usage: python -m benchmarks.replay [--seconds 3] [--capacities 100000 1000000]
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import time
from typing import Callable

import numpy as np

from seedrl.learner.agents.base import FieldSpec
from seedrl.learner.replay.buffer import PrioritizedReplay
from seedrl.learner.unrolls import Unrolls

# One SAC unroll of Pendulum-v1: 2 steps (T = 1) of the fields inference stores.
FIELDS = {
    "observation": FieldSpec((3,), np.dtype(np.float32)), "reward": FieldSpec((), np.dtype(np.float32)),
    "terminated": FieldSpec((), np.dtype(bool)), "truncated": FieldSpec((), np.dtype(bool)),
    "truncation_value": FieldSpec((), np.dtype(np.float32)), "prev_action": FieldSpec((1,), np.dtype(np.float32)),
    "action": FieldSpec((1,), np.dtype(np.float32)),
}
LENGTH, INSERT_BATCH, SAMPLE_BATCH = 2, 32, 256


def rate(work: Callable[[], int], seconds: float) -> float:
    """Items per second of repeated `work()` calls (each returns the items it handled)."""
    items, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        items += work()
    return items / (time.perf_counter() - started)


def chunk(rng: np.random.Generator) -> Unrolls:
    steps = {name: np.zeros((INSERT_BATCH, LENGTH, *s.shape), s.dtype) for name, s in FIELDS.items()}
    steps["observation"][:] = rng.normal(size=steps["observation"].shape)
    return Unrolls(steps, (), np.zeros(INSERT_BATCH, np.int64))


def replay_rates(capacity: int, seconds: float) -> tuple[float, float, float, float]:
    """(insert, baseline copy, sample, baseline gather) rates in unrolls/s."""
    rng = np.random.default_rng(0)
    replay = PrioritizedReplay(capacity, LENGTH, FIELDS, (), priority_exponent=0.9, importance_exponent=0.6)
    data = chunk(rng)
    priorities = lambda: rng.random(INSERT_BATCH) + 0.1  # noqa: E731
    # Fill once, so that sampling walks a full tree.
    while replay.inserted < capacity:
        replay.insert(data, priorities())
    insert = rate(lambda: (replay.insert(data, priorities()), INSERT_BATCH)[1], seconds)

    plain = {name: np.zeros((capacity, LENGTH, *s.shape), s.dtype) for name, s in FIELDS.items()}
    position = [0]

    def copy_rows() -> int:
        rows = (position[0] + np.arange(INSERT_BATCH)) % capacity
        for name, storage in plain.items():
            storage[rows] = data.steps[name]
        position[0] += INSERT_BATCH
        return INSERT_BATCH

    copy = rate(copy_rows, seconds)

    def sample_and_update() -> int:
        sample = replay.sample(SAMPLE_BATCH)
        replay.update_priorities(sample.indices, sample.keys, rng.random(SAMPLE_BATCH) + 0.1)
        return SAMPLE_BATCH

    sample = rate(sample_and_update, seconds)

    def gather() -> int:
        rows = rng.integers(0, capacity, SAMPLE_BATCH)
        for storage in plain.values():
            storage[rows]
        return SAMPLE_BATCH

    return insert, copy, sample, rate(gather, seconds)


def train_steps_per_second(agent_name: str, seconds: float) -> tuple[float, int, int]:
    """(train steps/s, batch size, T) of one agent on a fixed random batch, after its first (tracing) step."""
    from seedrl.envs.describe import env_spec
    from seedrl.learner.agents import build_agent
    from seedrl.spec.learner import LearnerConfig
    from seedrl.learner.inference import unroll_fields
    from seedrl.learner.replay.agent import ReplayAgent
    from seedrl.learner.training import time_major
    from tests.integration.test_train_replay import R2D2_CARTPOLE, SAC_PENDULUM

    flags = {"r2d2": R2D2_CARTPOLE, "sac": SAC_PENDULUM}.get(agent_name, ["--env", "gym:CartPole-v1"])
    config = LearnerConfig.model_validate(flags_to_values(flags) | {"agent": agent_name})
    spec = env_spec(config.env)
    agent = build_agent(config, spec)
    burn_in = agent.burn_in if isinstance(agent, ReplayAgent) else 0
    rng = np.random.default_rng(0)
    batch, length = agent.batch_size, burn_in + agent.unroll_length + 1
    if callable(batch):  # batch_size auto: the batch its rule gives the command's env slots
        batch = batch(env_slots(flags))
    steps = {}
    for name, field in unroll_fields(agent, spec).items():
        shape = (batch, length, *field.shape)
        steps[name] = (rng.random(shape) < 0.02) if field.dtype == bool else rng.uniform(-1, 1, shape).astype(field.dtype)
    if spec.action_dtype == np.int32:
        steps["action"] = rng.integers(0, spec.action_space.n, steps["action"].shape).astype(np.int32)
        steps["prev_action"] = rng.integers(0, spec.action_space.n, steps["prev_action"].shape).astype(np.int32)
    state = tuple(np.zeros((batch, *s.shape), s.dtype) for s in agent.state_specs)
    training = time_major(Unrolls(steps, state, np.zeros(batch, np.int64)))
    agent.train(training, 0)
    return rate(lambda: (agent.train(training, 0), 1)[1], seconds), batch, agent.unroll_length


def env_slots(flags: list[str]) -> int:
    """Actors x envs per actor of a `seedrl train` command line, the spec's defaults where it sets none."""
    from seedrl.spec.experiment import ExperimentSpec

    parser = argparse.ArgumentParser(allow_abbrev=False)  # `--env` is not `--envs-per-actor`
    parser.add_argument("--actors", type=int, default=ExperimentSpec.model_fields["actors"].default)
    parser.add_argument("--envs-per-actor", type=int, default=ExperimentSpec.model_fields["envs_per_actor"].default)
    known, _ = parser.parse_known_args(flags)
    return known.actors * known.envs_per_actor


def flags_to_values(flags: list[str]) -> dict:
    """`seedrl train` flags of the learning tests -> nested config values."""
    from seedrl.common.flags import add_model_flags, model_values
    from seedrl.spec.learner import LearnerConfig

    parser = argparse.ArgumentParser()
    add_model_flags(parser, LearnerConfig)
    parser.add_argument("--actors")
    parser.add_argument("--envs-per-actor")
    return model_values(parser.parse_args(flags), LearnerConfig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="measuring window of each figure")
    parser.add_argument("--capacities", type=int, nargs="*", default=[100_000, 1_000_000])
    args = parser.parse_args()
    print(f"# seedrl replay, {platform.machine()} with {subprocess.getoutput('nproc')} cores\n")
    print(f"Unrolls of {LENGTH} Pendulum steps; inserts of {INSERT_BATCH}, samples of {SAMPLE_BATCH} (with priority updates).\n")
    print("| capacity | insert, unrolls/s | copy baseline | insert / copy | sample + update, unrolls/s "
          "| gather baseline | sample / gather |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for capacity in args.capacities:
        insert, copy, sample, gather = replay_rates(capacity, args.seconds)
        print(f"| {capacity:,} | {insert:,.0f} | {copy:,.0f} | {insert / copy:.2f} | {sample:,.0f} | {gather:,.0f} "
              f"| {sample / gather:.2f} |", flush=True)
    print("\n| agent | batch x T | train steps/s | trained transitions/s | steps/s ratio to vtrace |")
    print("|---|---:|---:|---:|---:|")
    baseline = None
    for name in ("vtrace", "r2d2", "sac"):
        steps_per_s, batch, unroll_length = train_steps_per_second(name, args.seconds)
        baseline = baseline or steps_per_s
        print(f"| {name} | {batch} x {unroll_length} | {steps_per_s:,.1f} | {steps_per_s * batch * unroll_length:,.0f} "
              f"| {steps_per_s / baseline:.2f} |", flush=True)

if __name__ == "__main__":
    main()
