"""Helpers for tests that run real seedrl processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import grpc
from prometheus_client.parser import text_string_to_metric_families
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.util import tensor_util

from seedrl.common.credentials import call_metadata, read_secret_file
from seedrl.v1 import learner_pb2 as pb
from seedrl.v1 import learner_pb2_grpc as pb_grpc


def seedrl(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "seedrl.cli", *args], **kwargs)


@dataclass
class Run:
    """A finished `seedrl train` run: its summary.json, its output and its run folder."""

    summary: dict
    output: str
    logdir: Path


def read_summary(logdir: Path) -> dict:
    """The summary.json a `seedrl train` run leaves in its run folder."""
    return json.loads((logdir / "summary.json").read_text())


def train(logdir: Path, *flags: str, max_seconds: int = 400) -> Run:
    """Run `seedrl train FLAGS` in `logdir` to its end (at most `max_seconds`); it must exit with 0."""
    process = seedrl(
        "train", *flags, "--max-seconds", str(max_seconds), "--logdir", str(logdir),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    out, _ = process.communicate(timeout=max_seconds + 200)
    assert process.returncode == 0, out
    return Run(read_summary(logdir), out, logdir)


# Asynchronous training is not reproducible run to run: now and then a run plateaus, or needs twice the
# median frames (docs/benchmarks.md). A second, independent attempt keeps a learning test about learning
# rather than about luck; an agent that does not learn fails both.
LEARNING_ATTEMPTS = 2


def train_until_solved(tmp_path: Path, *flags: str, frames: int, target: float, max_seconds: int = 400) -> Run:
    """Up to LEARNING_ATTEMPTS runs of `seedrl train FLAGS`, each in a folder of its own under `tmp_path`,
    until one reaches a mean return of `target` over 100 episodes within `frames` frames: that run."""
    attempts = []
    for attempt in range(LEARNING_ATTEMPTS):
        run = train(
            tmp_path / f"attempt-{attempt}", *flags, "--total-frames", str(frames), "--stop-at-return", str(target),
            max_seconds=max_seconds,
        )
        attempts.append(run.summary)
        if run.summary["stop_reason"] == "solved":
            break
    assert run.summary["stop_reason"] == "solved", attempts
    assert run.summary["mean_return_100"] >= target and run.summary["frames"] <= frames
    assert pids_with(str(tmp_path)) == []  # no stray processes
    return run


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


def status(port: int, secret_file: Path | None = None) -> pb.LearnerStatus | None:
    """The learner's status, presenting the secret in `secret_file` (a `seedrl train` run folder's `secret`);
    None while it does not answer, or while the run has not written its secret yet."""
    if secret_file is not None and not secret_file.exists():
        return None
    metadata = call_metadata(read_secret_file(secret_file)) if secret_file else ()
    with grpc.insecure_channel(f"localhost:{port}") as channel:
        try:
            return pb_grpc.LearnerStub(channel).GetStatus(pb.StatusRequest(), timeout=2, metadata=metadata)
        except grpc.RpcError:
            return None


def metric(metrics_port: int, name: str, **labels: str) -> float:
    """The sum of the samples named `name` (with `labels`) that the /metrics on `metrics_port` serves."""
    text = urllib.request.urlopen(f"http://localhost:{metrics_port}/metrics", timeout=5).read().decode()
    return sum(
        sample.value for family in text_string_to_metric_families(text) for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


def scalars(folder: Path, tag: str) -> list[float]:
    """The values of TensorBoard scalar `tag` in the event files under `folder`, oldest first; [] if absent."""
    accumulator = EventAccumulator(str(folder))
    accumulator.Reload()
    if tag not in accumulator.Tags()["tensors"]:
        return []
    return [float(tensor_util.make_ndarray(event.tensor_proto)) for event in accumulator.Tensors(tag)]
