"""Helpers for tests that run real seedrl processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import grpc

from seedrl.v1 import learner_pb2 as pb
from seedrl.v1 import learner_pb2_grpc as pb_grpc


def seedrl(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "seedrl.cli", *args], **kwargs)


def pids_with(text: str) -> list[int]:
    """Pids of live processes whose command line contains `text`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().split(")")[-1].split()[0]
        except OSError:
            continue
        if text in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def wait_for(predicate: Callable[[], object], timeout: float, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"{what} not met within {timeout}s")


def status(port: int) -> pb.LearnerStatus | None:
    with grpc.insecure_channel(f"localhost:{port}") as channel:
        try:
            return pb_grpc.LearnerStub(channel).GetStatus(pb.StatusRequest(), timeout=2)
        except grpc.RpcError:
            return None
