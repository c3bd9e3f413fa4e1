"""The learner's devices: train steps/s and inference batches/s by device plan, XLA and mixed precision.

Each figure is a ratio against the baseline of the same run: one device, float32, no XLA.

  train:     V-trace train steps/s on batches of `--batch` unrolls of `--unroll` steps, with
             (a) one device, (b) two training replicas (MirroredStrategy), (c) jit_compile (XLA),
             (d) bfloat16 encoders, (e) float16 encoders with dynamic loss scaling.
  inference: batches/s of `--rows`-row inference calls from two threads, (a) on the trained agent
             (live weights, one device), (b) from copies on one and (c) on two inference devices.

Without a GPU the CPU is split into logical devices: they share its cores, so the multi-device
rows show the cost of the machinery, not a speed-up; run it on a multi-GPU node for that.

Usage: python -m benchmarks.devices [--env atari:Pong] [--torso impala] [--seconds 10]
"""

from __future__ import annotations

import argparse
import datetime
import platform
import threading
import time
from typing import Callable

import numpy as np

from seedrl.learner.devices.strategy import split_cpu

split_cpu(3)  # before TensorFlow first runs; ignored when GPUs are present (the plan uses those)

import tensorflow as tf  # noqa: E402

from seedrl.envs.describe import env_spec  # noqa: E402
from seedrl.common import metrics as m  # noqa: E402
from seedrl.common.spaces import EnvSpec  # noqa: E402
from seedrl.learner.agents.base import StepInputs, TrainingBatch  # noqa: E402
from seedrl.learner.agents.vtrace.agent import VTraceAgent  # noqa: E402
from seedrl.spec.vtrace import VTraceConfig  # noqa: E402
from seedrl.learner.devices.acting import InferenceCopies, LiveActing  # noqa: E402
from seedrl.learner.devices.precision import mixed_precision  # noqa: E402
from seedrl.spec.network import NetworkConfig  # noqa: E402


def accelerators() -> list[str]:
    """The devices this run uses: every GPU, else the logical CPUs."""
    gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
    return gpus or [d.name for d in tf.config.list_logical_devices("CPU")]


def build(spec: EnvSpec, args: argparse.Namespace, **kwargs) -> VTraceAgent:
    config = VTraceConfig(batch_size=args.batch, unroll_length=args.unroll)
    return VTraceAgent(spec, config, total_frames=10**9, network=NetworkConfig(torso=args.torso), **kwargs)


def random_batch(spec: EnvSpec, args: argparse.Namespace, rng: np.random.Generator) -> TrainingBatch:
    shape, n = (args.unroll + 1, args.batch), spec.action_space.n
    observation = rng.integers(0, 255, (*shape, *spec.observation_shape)).astype(spec.observation_dtype)
    steps = {
        "observation": observation, "reward": rng.normal(size=shape).astype(np.float32),
        "terminated": rng.random(shape) < 0.01, "truncated": np.zeros(shape, bool),
        "truncation_value": np.zeros(shape, np.float32), "prev_action": rng.integers(0, n, shape).astype(np.int32),
        "action": rng.integers(0, n, shape).astype(np.int32),
        "behaviour_logits": rng.normal(size=(*shape, n)).astype(np.float32),
    }
    return TrainingBatch(steps, ())


def per_second(work: Callable[[], None], seconds: float, threads: int = 1) -> float:
    """Calls of `work` per second over `seconds`, from `threads` threads, after one warm-up call each."""
    for _ in range(threads):
        work()
    counts = [0] * threads
    deadline = time.perf_counter() + seconds

    def loop(index: int) -> None:
        while time.perf_counter() < deadline:
            work()
            counts[index] += 1

    started = time.perf_counter()
    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(counts) / (time.perf_counter() - started)


def train_rates(spec: EnvSpec, args: argparse.Namespace, devices: list[str]) -> dict[str, float]:
    batch = random_batch(spec, args, np.random.default_rng(0))
    mirrored = tf.distribute.MirroredStrategy(
        devices[:2], cross_device_ops=None if "GPU" in devices[0] else tf.distribute.ReductionToOneDevice()
    )
    with mirrored.scope():
        replicated = build(spec, args)
    mixed = {}
    for mode in ("bfloat16", "float16"):
        with mixed_precision(mode):
            mixed[mode] = build(spec, args)
    agents = {
        "(a) 1 device": build(spec, args), "(b) 2 replicas": replicated,
        "(c) 1 device, XLA": build(spec, args, jit_compile=True), "(d) 1 device, bfloat16": mixed["bfloat16"],
        "(e) 1 device, float16": mixed["float16"],
    }
    return {name: per_second(lambda agent=agent: agent.train(batch, 0), args.seconds) for name, agent in agents.items()}


def inference_rates(spec: EnvSpec, args: argparse.Namespace, devices: list[str]) -> dict[str, float]:
    rng = np.random.default_rng(1)
    rows = args.rows
    observation = rng.integers(0, 255, (rows, *spec.observation_shape)).astype(spec.observation_dtype)
    inputs = StepInputs(observation, np.zeros(rows, bool), np.zeros(rows, np.int32), np.zeros(rows, np.float32),
                        np.arange(rows, dtype=np.int32))
    trained = build(spec, args)
    actings = {
        "(a) live weights, shared device": LiveActing(trained),
        "(b) copy on 1 inference device": InferenceCopies(trained, lambda: build(spec, args), (devices[-1],), 1, m.Metrics("b", "learner")),
        "(c) copies on 2 inference devices": InferenceCopies(
            trained, lambda: build(spec, args), tuple(devices[-2:]), 1, m.Metrics("b", "learner")
        ),
    }
    return {name: per_second(lambda acting=acting: acting.act(inputs, ()), args.seconds, threads=2)
            for name, acting in actings.items()}


def table(title: str, unit: str, rates: dict[str, float]) -> None:
    baseline = next(iter(rates.values()))
    print(f"\n| {title} | {unit} | ratio |\n|---|---:|---:|")
    for name, value in rates.items():
        print(f"| {name} | {value:,.1f} | {value / baseline:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="atari:Pong")
    parser.add_argument("--torso", default="impala", choices=("impala", "nature", "mlp"))
    parser.add_argument("--batch", type=int, default=8, help="unrolls per train step")
    parser.add_argument("--unroll", type=int, default=20)
    parser.add_argument("--rows", type=int, default=64, help="rows per inference call")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    spec = env_spec(args.env)
    devices = accelerators()
    print(f"{datetime.date.today()}, {platform.processor() or platform.machine()}, TensorFlow {tf.__version__}; "
          f"devices: {', '.join(devices)}; {args.env}, {args.torso} torso, batch {args.batch} x {args.unroll + 1} steps")
    table("train step", "steps/s", train_rates(spec, args, devices))
    table(f"inference, {args.rows} rows per call, 2 threads", "batches/s", inference_rates(spec, args, devices))


if __name__ == "__main__":
    main()
