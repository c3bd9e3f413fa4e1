"""Helpers to measure a running `seedrl train` from outside: steady-state frame rate via GetStatus."""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

import grpc

from seedrl.common.ports import free_port
from seedrl.v1 import learner_pb2 as pb
from seedrl.v1 import learner_pb2_grpc as pb_grpc


@dataclass
class Rate:
    fps: float
    learner_steps_per_s: float


def _status(stub: pb_grpc.LearnerStub) -> pb.LearnerStatus | None:
    try:
        return stub.GetStatus(pb.StatusRequest(), timeout=2)
    except grpc.RpcError:
        return None


def measure_train(args: list[str], seconds: float, warmup: float = 4.0) -> Rate:
    """Start `seedrl train ARGS`, wait for frames, skip `warmup` s, then measure over `seconds` s."""
    port = free_port()
    with tempfile.TemporaryDirectory() as logdir:
        process = subprocess.Popen(
            [sys.executable, "-m", "seedrl.cli", "train", "--port", str(port), "--logdir", logdir,
             "--total-frames", "1000000000", "--max-seconds", str(120 + warmup + seconds), *args],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            with grpc.insecure_channel(f"localhost:{port}") as channel:
                stub = pb_grpc.LearnerStub(channel)
                deadline = time.monotonic() + 120
                while (s := _status(stub)) is None or s.frames == 0:
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise RuntimeError("seedrl train did not start streaming")
                    time.sleep(0.2)
                time.sleep(warmup)
                first, t0 = _status(stub), time.monotonic()
                time.sleep(seconds)
                last, t1 = _status(stub), time.monotonic()
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
    elapsed = t1 - t0
    return Rate((last.frames - first.frames) / elapsed, (last.learner_steps - first.learner_steps) / elapsed)
