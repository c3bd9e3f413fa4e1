"""Helpers for tests that run real seedrl processes."""

from __future__ import annotations

import json
import os
import re
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
# median frames (docs/benchmarks.md). A second, independent attempt with another seed keeps a learning test
# about learning rather than about luck; an agent that does not learn fails both.
LEARNING_SEEDS = (0, 1)
# Set to a folder to keep every learning test's attempts there (one JSON file per test), e.g. in CI.
ARTIFACTS_ENV = "SEEDRL_TEST_ARTIFACTS"


def train_until_solved(
    tmp_path: Path, *flags: str, frames: int, target: float, max_seconds: int = 400, seeds: tuple[int, ...] = LEARNING_SEEDS
) -> Run:
    """Runs of `seedrl train FLAGS --seed S`, one per seed in `seeds` and each in a folder of its own under
    `tmp_path`, until one reaches a mean return of `target` over 100 episodes within `frames` frames: that run.

    Every attempt's outcome (seed, solved or not, frames, mean return, wall time) is printed (pytest shows it
    with the test's output) and written, as it ends, to `attempts_path(tmp_path)`.
    """
    if "--seed" in flags:
        raise ValueError("train_until_solved sets --seed itself, one per attempt (`seeds`)")
    record = {"test": current_test(), "flags": list(flags), "frames_budget": frames, "target": target, "attempts": []}
    artifact = attempts_path(tmp_path)
    for attempt, seed in enumerate(seeds):
        logdir = tmp_path / f"attempt-{attempt}"
        run = train(logdir, *flags, "--seed", str(seed), "--total-frames", str(frames), "--stop-at-return", str(target),
                    max_seconds=max_seconds)
        outcome = attempt_outcome(attempt, seed, run)
        record["attempts"].append(outcome)
        artifact.parent.mkdir(parents=True, exist_ok=True)
        artifact.write_text(json.dumps(record, indent=2) + "\n")
        print(f"{record['test']}: attempt {attempt + 1}/{len(seeds)}, seed {seed}: "
              f"{'solved' if outcome['solved'] else 'not solved (' + outcome['stop_reason'] + ')'} at "
              f"{outcome['frames']:,} frames, mean return {outcome['mean_return_100']}, "
              f"{outcome['wall_seconds']} s (target {target} within {frames:,} frames; {artifact})", flush=True)
        if outcome["solved"]:
            break
    assert run.summary["stop_reason"] == "solved", record["attempts"]
    assert run.summary["mean_return_100"] >= target and run.summary["frames"] <= frames
    assert pids_with(str(tmp_path)) == []  # no stray processes
    return run


def attempt_outcome(attempt: int, seed: int, run: Run) -> dict:
    """What a learning test's attempt reached, from its summary.json."""
    keys = ("stop_reason", "frames", "mean_return_100", "wall_seconds", "solved_at_seconds", "fps")
    return {"attempt": attempt, "seed": seed, "solved": run.summary["stop_reason"] == "solved",
            **{key: run.summary[key] for key in keys}, "logdir": str(run.logdir)}


def current_test() -> str:
    """The running test's id (`path::name[params]`), or "" outside pytest."""
    return os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" (", 1)[0]


def attempts_path(tmp_path: Path) -> Path:
    """Where `train_until_solved` writes its attempts: `$SEEDRL_TEST_ARTIFACTS/<test id>.json` when that is
    set, else `tmp_path/attempts.json`."""
    folder = os.environ.get(ARTIFACTS_ENV)
    if not folder:
        return tmp_path / "attempts.json"
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", current_test() or tmp_path.name).strip("_")
    return Path(folder) / f"{name}.json"


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


def assert_policy_lag_within(logdir: Path, steady: float) -> None:
    """The run's `seedrl_policy_lag_steps` points stay within `steady` updates, but for its last one.

    That one is taken as the 2 actors of a `seedrl train` run stop one after the other: with one gone the
    automatic batch halves, and what was queued ahead trains in twice the updates (docs/architecture.md),
    so its bound is twice as high.
    """
    lags = scalars(logdir / "tensorboard", "seedrl_policy_lag_steps")
    assert len(lags) >= 2 and max(lags[:-1]) <= steady and lags[-1] <= 2 * steady, lags


def assert_runs_with_env_defaults(logdir: Path, env: str, agent: str) -> None:
    """The learner's config in `logdir` holds every value the defaults tables give `agent` on `env`."""
    from seedrl.spec.family_defaults import env_defaults, flatten

    config = json.loads((logdir / "learner.json").read_text())
    expected = flatten(env_defaults(env, agent))
    assert expected, f"no defaults of {env}'s family or of {env} for {agent}"
    for path, value in expected:
        found = config
        for key in path.split("."):
            found = found[key]
        assert found == value, f"{path}: {found!r} in learner.json, {value!r} in the defaults tables"
