"""How fast the controller drives an experiment: start, live scale, stop (final checkpoint), resume.

Starts `seedrl controller` on a free port with a temporary data dir and times each
operation of one CartPole experiment from the API call until the status shows it
done, plus the latency of GET /api/v1/experiments/{name} while the run trains.
Usage: python -m benchmarks.controller
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from typing import Any, Callable

import httpx

from seedrl.common.ports import free_port

EXPERIMENT = "/api/v1/experiments/bench"


def _until(api: httpx.Client, done: Callable[[dict[str, Any]], bool], timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = api.get(EXPERIMENT).json()["status"]
        if done(status):
            return status
        time.sleep(0.05)
    raise TimeoutError("the experiment did not get there in time")


def _timed(api: httpx.Client, call: Callable[[], Any], done: Callable[[dict[str, Any]], bool]) -> tuple[float, dict]:
    started = time.perf_counter()
    call()
    status = _until(api, done)
    return time.perf_counter() - started, status


def _until_ready(api: httpx.Client, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if api.get("/readyz").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError("the controller did not become ready")


def main() -> None:
    port = free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        controller = subprocess.Popen(
            [sys.executable, "-m", "seedrl.cli", "controller", "--port", str(port), "--data-dir", data_dir,
             "--poll-s", "0.1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            # A controller without a token takes changes declared JSON only (bodies or not).
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60,
                              headers={"Content-Type": "application/json"}) as api:
                _until_ready(api)
                spec = {"name": "bench", "actors": 2, "envs_per_actor": 16}
                rows = []
                seconds, _ = _timed(api, lambda: api.post("/api/v1/experiments", params={"start": "true"}, json=spec),
                                    lambda s: s["phase"] == "Running")
                rows.append(("create + start -> Running (learner serving)", seconds))
                time.sleep(5)
                seconds, _ = _timed(api, lambda: api.post(f"{EXPERIMENT}/scale", json={"actors": 4}),
                                    lambda s: s["connected_streams"] == 8)
                rows.append(("scale 2 -> 4 actors -> all 8 streams connected", seconds))
                latencies = []
                for _ in range(200):
                    started = time.perf_counter()
                    api.get(EXPERIMENT)
                    latencies.append(time.perf_counter() - started)
                latencies.sort()
                seconds, stopped = _timed(api, lambda: api.post(f"{EXPERIMENT}/stop"), lambda s: s["phase"] == "Stopped")
                rows.append(("stop -> Stopped (final checkpoint written)", seconds))
                seconds, resumed = _timed(api, lambda: api.post(f"{EXPERIMENT}/resume"), lambda s: s["phase"] == "Running")
                rows.append(("resume -> Running", seconds))
                api.delete(EXPERIMENT, params={"force": "true", "delete_checkpoints": "true"})
        finally:
            controller.terminate()
            controller.wait(120)
    print("| operation | seconds |\n|---|---:|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.2f} |")
    print(f"\nframes at stop {stopped['frames']:,}; frames when resumed {resumed['frames']:,}")
    print(f"GET {EXPERIMENT} while training: p50 {latencies[100] * 1e3:.1f} ms, p99 {latencies[198] * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
