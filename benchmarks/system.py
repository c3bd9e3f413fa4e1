"""Helpers to measure a running system from outside: steady-state frame rate via GetStatus.

`measure_train` runs `seedrl train`; `measure_inference_only` runs a learner serving a fixed
policy (`seedrl learner --inference-only`) with `seedrl actor` processes.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import grpc

from benchmarks.cores import Cores, pinned_to
from seedrl.common.credentials import call_metadata, read_secret_file
from seedrl.common.ports import free_port
from seedrl.common.run_folder import RunFolder
from seedrl.v1 import learner_pb2 as pb
from seedrl.v1 import learner_pb2_grpc as pb_grpc


@dataclass
class Rate:
    fps: float
    learner_steps_per_s: float


def _status(stub: pb_grpc.LearnerStub, metadata: tuple[tuple[str, str], ...]) -> pb.LearnerStatus | None:
    try:
        return stub.GetStatus(pb.StatusRequest(), timeout=2, metadata=metadata)
    except grpc.RpcError:
        return None


def _seedrl(*args: str, cores: Cores | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "seedrl.cli", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        preexec_fn=pinned_to(cores),
    )


def _measure(port: int, processes: list[subprocess.Popen], seconds: float, warmup: float,
             secret_file: Path | None = None) -> Rate:
    """Wait for frames at the learner on `port` (presenting the secret in `secret_file`, if given), skip `warmup` s,
    then measure over `seconds` s; stop `processes`."""
    try:
        with grpc.insecure_channel(f"localhost:{port}") as channel:
            stub = pb_grpc.LearnerStub(channel)
            deadline = time.monotonic() + 120
            metadata: tuple[tuple[str, str], ...] = ()
            while (s := _status(stub, metadata)) is None or s.frames == 0:
                if secret_file is not None and not metadata and secret_file.exists():
                    metadata = call_metadata(read_secret_file(secret_file))
                if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                    raise RuntimeError("the system did not start streaming")
                time.sleep(0.2)
            time.sleep(warmup)
            first, t0 = _status(stub, metadata), time.monotonic()
            time.sleep(seconds)
            last, t1 = _status(stub, metadata), time.monotonic()
    finally:
        for process in reversed(processes):  # actors first, then the learner
            process.send_signal(signal.SIGINT)
        for process in reversed(processes):
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
    elapsed = t1 - t0
    return Rate((last.frames - first.frames) / elapsed, (last.learner_steps - first.learner_steps) / elapsed)


def measure_train(args: list[str], seconds: float, warmup: float = 4.0) -> Rate:
    """Start `seedrl train ARGS`, wait for frames, skip `warmup` s, then measure over `seconds` s."""
    port = free_port()
    with tempfile.TemporaryDirectory() as logdir:
        process = _seedrl("train", "--port", str(port), "--logdir", logdir, "--total-frames", "1000000000",
                          "--max-seconds", str(120 + warmup + seconds), *args)
        return _measure(port, [process], seconds, warmup, RunFolder(Path(logdir)).secret)


def measure_inference_only(
    learner_args: list[str], actor_args: list[str], actors: int, envs: int, seconds: float, warmup: float = 4.0,
    learner_cores: Cores | None = None, actor_cores: Cores | None = None,
) -> Rate:
    """A learner serving a fixed policy (`learner_args`, e.g. env and network) and `actors` actor
    processes of `envs` envs each (`actor_args`, e.g. env and streams); the system's frame rate.
    The learner runs on `learner_cores`, the actors on `actor_cores` (default: any core)."""
    port = free_port()
    with tempfile.TemporaryDirectory() as logdir:
        processes = [_seedrl("learner", "--inference-only", "--port", str(port), "--logdir", logdir,
                             "--total-frames", "1000000000", *learner_args, cores=learner_cores)]
        processes += [
            _seedrl("actor", "--learner", f"localhost:{port}", "--envs-per-actor", str(envs), "--seed", str(i * envs),
                    "--actor-id", f"actor-{i}", *actor_args, cores=actor_cores)
            for i in range(actors)
        ]
        return _measure(port, processes, seconds, warmup)
