"""Load: simulated actors hold many env slots over many streams against one learner process.

The actors are synthetic (no environment is stepped): each stream sends step batches
of fixed observations as fast as the learner answers, and counts what it sent. The
learner runs `gym:Acrobot-v1`'s spec in inference-only mode, so its policy is fixed:

- **Accounting.** Every row after a slot's first is an environment step, and every
  `terminated` row ends an episode; the learner's frame and episode counters must equal
  what the training streams sent, and its evaluation episode counter what the evaluation
  streams sent, exactly (no step lost or counted twice).
- **Routing.** Half the streams are evaluation streams, answered with the greedy action,
  a pure function of the observation. Each env shows one of a few observation patterns,
  so every pattern must always get the same action, whichever stream and row it is in;
  an action delivered to the wrong env or stream breaks that.

    python -m benchmarks.load                 # 10, 100 and 1,000 slots; prints a table
    python -m benchmarks.load --slots 1000    # one size
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field

import grpc
import numpy as np
from prometheus_client.parser import text_string_to_metric_families

from seedrl.envs.describe import env_spec
from seedrl.common import tensors
from seedrl.common.ports import free_port
from seedrl.common.spaces import EnvSpec, spec_to_proto
from seedrl.v1 import learner_pb2 as pb
from seedrl.v1 import learner_pb2_grpc as pb_grpc

ENV = "gym:Acrobot-v1"
PATTERNS = 64  # distinct observations the envs show
EPISODE_STEPS = 50  # env i's episodes last EPISODE_STEPS + i % 7 steps


@dataclass
class Tally:
    """What the simulated actors sent and received, summed over streams."""

    rows: int = 0  # env rows sent, reset rows included
    slots: int = 0  # slots leased (each slot's first row is a reset, not a step)
    episodes: int = 0  # terminated rows sent
    replies: int = 0
    errors: list[str] = field(default_factory=list)
    misrouted: int = 0
    greedy: dict[int, int] = field(default_factory=dict)  # pattern -> the action it got first
    round_trips: list[float] = field(default_factory=list)  # seconds

    @property
    def steps(self) -> int:
        return self.rows - self.slots


@dataclass
class LearnerCounters:
    """What the learner counted, read after every stream closed."""

    frames: int
    episodes: int
    eval_episodes: int
    inference_p50_ms: float
    inference_p99_ms: float
    rss_mb: float


@dataclass
class LoadResult:
    slots: int
    streams: int
    seconds: float
    train: Tally  # the training streams
    evaluation: Tally  # the evaluation streams (greedy actions)
    learner: LearnerCounters

    @property
    def fps(self) -> float:
        """Env rows answered per second, both kinds of stream."""
        return (self.train.rows + self.evaluation.rows) / self.seconds

    @property
    def errors(self) -> list[str]:
        return self.train.errors + self.evaluation.errors

    @property
    def exact(self) -> bool:
        """The learner counted exactly the steps and episodes the streams sent."""
        return (self.train.steps, self.train.episodes, self.evaluation.episodes) == (
            self.learner.frames, self.learner.episodes, self.learner.eval_episodes)

    def round_trip_ms(self, q: float) -> float:
        trips = self.train.round_trips + self.evaluation.round_trips
        return 1000 * float(np.quantile(trips, q)) if trips else float("nan")


def _patterns(spec: EnvSpec) -> np.ndarray:
    """[PATTERNS, *obs] distinct observations inside the space's bounds."""
    box = spec.observation_space
    low, high = np.maximum(box.low, -1.0), np.minimum(box.high, 1.0)
    rng = np.random.default_rng(0)
    return rng.uniform(low, high, size=(PATTERNS, *spec.observation_shape)).astype(spec.observation_dtype)


async def _stream(
    stub: pb_grpc.LearnerStub, name: str, first_env: int, k: int, evaluation: bool, spec: EnvSpec,
    patterns: np.ndarray, deadline: float, tally: Tally,
) -> None:
    """One simulated actor stream of `k` envs, numbered from `first_env` among its kind, until `deadline`."""
    env_ids = np.arange(first_env, first_env + k)
    pattern = env_ids % PATTERNS
    episode_steps = EPISODE_STEPS + env_ids % 7
    observations = patterns[pattern]
    age = np.zeros(k, np.int64)
    call = stub.Act()
    await call.write(pb.ActorMessage(hello=pb.Hello(
        actor_id=name, run_id=1, num_envs=k, env_spec=spec_to_proto(spec), evaluation=evaluation,
    )))
    welcome = await call.read()
    if welcome is grpc.aio.EOF or welcome.WhichOneof("kind") != "welcome":
        tally.errors.append(f"{name}: no welcome: {await call.details()}")
        return
    tally.slots += k
    rewards, terminated = np.zeros(k, np.float32), np.zeros(k, bool)
    truncated = np.zeros(k, bool)
    while True:
        step = pb.StepBatch(run_id=1)
        tensors.encode(rewards, step.rewards)
        tensors.encode(terminated, step.terminated)
        tensors.encode(truncated, step.truncated)
        tensors.encode(observations, step.observations)
        sent = time.perf_counter()
        await call.write(pb.ActorMessage(step=step))
        tally.rows += k
        tally.episodes += int(terminated.sum())
        reply = await call.read()
        if reply is grpc.aio.EOF:
            tally.errors.append(f"{name}: stream ended: {await call.details()}")
            return
        tally.round_trips.append(time.perf_counter() - sent)
        tally.replies += 1
        actions = tensors.decode(reply.actions.actions)
        if actions.shape != (k,) or actions.dtype != np.int32 or not ((actions >= 0) & (actions < 3)).all():
            tally.errors.append(f"{name}: bad actions {actions!r}")
            return
        if evaluation:
            for p, action in zip(pattern.tolist(), actions.tolist()):
                tally.misrouted += tally.greedy.setdefault(p, action) != action
        if time.monotonic() >= deadline:
            await call.done_writing()
            return
        age += 1
        terminated = age >= episode_steps
        age[terminated] = 0
        rewards = np.ones(k, np.float32)


def _histogram_quantile(samples: dict[float, float], q: float) -> float:
    """The q-quantile of a cumulative histogram {upper bound: count}, linear within buckets."""
    bounds = sorted(samples)
    total = samples[bounds[-1]]
    target, lower, below = q * total, 0.0, 0.0
    for bound in bounds:
        if samples[bound] >= target:
            if bound == float("inf"):
                return lower
            return lower + (bound - lower) * (target - below) / max(samples[bound] - below, 1e-12)
        lower, below = bound, samples[bound]
    return lower


def read_counters(port: int, metrics_port: int) -> LearnerCounters:
    """Frames and episodes (GetStatus), evaluation episodes, inference latency and memory (/metrics)."""
    with grpc.insecure_channel(f"localhost:{port}") as channel:
        status = pb_grpc.LearnerStub(channel).GetStatus(pb.StatusRequest(), timeout=5)
    text = urllib.request.urlopen(f"http://localhost:{metrics_port}/metrics", timeout=5).read().decode()
    buckets: dict[float, float] = {}
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "seedrl_inference_latency_seconds_bucket":
                buckets[float(sample.labels["le"])] = sample.value
            else:
                values[sample.name] = sample.value
    return LearnerCounters(
        frames=status.frames, episodes=status.episodes,
        eval_episodes=int(values.get("seedrl_eval_episodes_total", 0)),
        inference_p50_ms=1000 * _histogram_quantile(buckets, 0.5),
        inference_p99_ms=1000 * _histogram_quantile(buckets, 0.99),
        rss_mb=values.get("seedrl_process_resident_memory_bytes", float("nan")) / 2**20,
    )


def start_learner(max_slots: int, logdir: str) -> tuple[subprocess.Popen, int, int]:
    """An inference-only learner for ENV; returns (process, gRPC port, metrics port) once it serves."""
    port, metrics_port = free_port(), free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "seedrl.cli", "learner", "--experiment", "load", "--env", ENV, "--inference-only",
         "--port", str(port), "--metrics-port", str(metrics_port), "--logdir", logdir,
         "--inference.max-slots", str(max_slots), "--total-frames", str(10**12)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    with grpc.insecure_channel(f"localhost:{port}") as channel:
        stub = pb_grpc.LearnerStub(channel)
        while True:
            try:
                stub.GetStatus(pb.StatusRequest(), timeout=2)
                return process, port, metrics_port
            except grpc.RpcError:
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()
                    raise RuntimeError("the learner did not start") from None
                time.sleep(0.2)


async def simulate(port: int, slots: int, envs_per_stream: int, seconds: float) -> tuple[Tally, Tally, float]:
    """Hold `slots` env slots in streams of `envs_per_stream` for `seconds`, odd streams evaluating.

    Returns the training streams' tally, the evaluation streams' tally and the wall time.
    """
    spec = env_spec(ENV)
    patterns = _patterns(spec)
    train, evaluation = Tally(), Tally()
    streams = -(-slots // envs_per_stream)
    async with grpc.aio.insecure_channel(f"localhost:{port}") as channel:
        stub = pb_grpc.LearnerStub(channel)
        started = time.monotonic()
        deadline = started + seconds
        await asyncio.gather(*(
            _stream(stub, f"load-{s}", s // 2 * envs_per_stream, min(envs_per_stream, slots - s * envs_per_stream),
                    s % 2 == 1, spec, patterns, deadline, evaluation if s % 2 else train)
            for s in range(streams)
        ))
        return train, evaluation, time.monotonic() - started


def run_load(slots: int, envs_per_stream: int, seconds: float) -> LoadResult:
    """Start a learner, load it, and read back its counters once every stream has closed."""
    with tempfile.TemporaryDirectory() as logdir:
        process, port, metrics_port = start_learner(max(slots, 16), logdir)
        try:
            train, evaluation, elapsed = asyncio.run(simulate(port, slots, envs_per_stream, seconds))
            counters = read_counters(port, metrics_port)
        finally:
            process.terminate()
            process.wait(60)
    return LoadResult(slots, -(-slots // envs_per_stream), elapsed, train, evaluation, counters)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slots", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--envs-per-stream", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    print("| slots | streams | rows/s | round trip p50 / p99 (ms) | inference p50 / p99 (ms) | learner RSS (MB) "
          "| training steps sent = learner frames | misrouted | errors |")
    print("|---:|---:|---:|---|---|---:|---|---:|---:|")
    for slots in args.slots:
        r = run_load(slots, min(args.envs_per_stream, slots), args.seconds)
        print(f"| {r.slots:,} | {r.streams} | {r.fps:,.0f} | {r.round_trip_ms(0.5):.1f} / {r.round_trip_ms(0.99):.1f} "
              f"| {r.learner.inference_p50_ms:.2f} / {r.learner.inference_p99_ms:.2f} | {r.learner.rss_mb:,.0f} "
              f"| {r.train.steps:,} = {r.learner.frames:,}: {'yes' if r.exact else 'NO'} "
              f"| {r.evaluation.misrouted} | {len(r.errors)} |")


if __name__ == "__main__":
    main()
