"""The REST API as an attacker and a careless user try it, against real controller processes.

Exports of checkpoints are real `seedrl export` processes of a real run; the cross-site requests
are what a browser sends for another site's page (its Origin, a form's media type, a rebound Host).
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from seedrl.controller.store import Store, StoredExperiment
from seedrl.spec.experiment import ExperimentSpec
from tests.integration.controller import start_controller
from tests.integration.helpers import pids_with, seedrl, wait_for

pytestmark = pytest.mark.integration

TOKEN = "security-token-0123456789"
API = "/api/v1/experiments"
PROBLEM = "application/problem+json"


def spec(name: str, **fields) -> dict:
    return {"name": name, "env": "gym:CartPole-v1", "actors": 1, "envs_per_actor": 4,
            "vtrace": {"batch_size": 4, "unroll_length": 8}, **fields}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_without_a_token_only_loopback_same_site_json_requests_change_anything(tmp_path):
    refused = seedrl("controller", "--host", "0.0.0.0", "--data-dir", str(tmp_path / "exposed"),
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                     env={k: v for k, v in os.environ.items() if k != "SEEDRL_API_TOKEN"})
    output, _ = refused.communicate(timeout=60)
    assert refused.returncode != 0 and "without an API token" in output

    controller = start_controller(tmp_path / "open", None, "--max-active-experiments", "0")
    try:
        with httpx.Client(base_url=controller.url) as api:
            # A page of another site posting to the loopback API: its Origin, or a form's or text's media type.
            evil = api.post(API, json=spec("evil"), headers={"Origin": "http://evil.example"})
            assert evil.status_code == 403 and evil.headers["content-type"] == PROBLEM
            for media_type, body in [("application/x-www-form-urlencoded", b"name=evil"),
                                     ("text/plain", b'{"name": "evil"}'), ("multipart/form-data; boundary=x", b"--x--")]:
                response = api.post(API, content=body, headers={"Content-Type": media_type})
                assert response.status_code == 415, (media_type, response.text)
            assert api.post(f"{API}/evil/start").status_code == 415  # no body, no JSON: could be a form
            # DNS rebinding: evil.example resolving to 127.0.0.1 sends its own name as Host.
            rebound = api.get(API, headers={"Host": f"evil.example:{controller.url.rsplit(':', 1)[1]}"})
            assert rebound.status_code == 400 and "evil.example" in rebound.json()["detail"]
            assert api.get(API).json()["total"] == 0  # nothing got in
            # The API's own page, or a script on this machine, gets through.
            same = api.post(API, json=spec("mine"), headers={"Origin": controller.url})
            assert same.status_code == 201, same.text
            assert api.post(API, json=spec("mine-too")).status_code == 201
            assert api.get(f"{API}/mine", headers={"Host": "localhost"}).status_code == 200
    finally:
        controller.stop()


def test_bodies_over_the_limit_are_refused_before_they_are_read(tmp_path):
    controller = start_controller(tmp_path, TOKEN, "--max-active-experiments", "0")
    try:
        before = rss_mb(controller.process.pid)
        huge = b'{"name": "huge", "padding": "' + b"x" * (50 << 20) + b'"}'
        with controller.client() as api:
            started = time.monotonic()
            response = api.post(API, content=huge, headers={"Content-Type": "application/json"})
            assert response.status_code == 413 and response.headers["content-type"] == PROBLEM
            assert "--max-body-bytes" in response.json()["detail"] and time.monotonic() - started < 10

            def chunks():  # no Content-Length: cut off once past the limit
                yield b'{"name": "chunked", "padding": "'
                for _ in range(50):
                    yield b"x" * (100 << 10)

            chunked = api.post(API, content=chunks(), headers={"Content-Type": "application/json"})
            assert chunked.status_code == 413, chunked.text
            assert api.get(f"{API}/chunked").status_code == 404
            assert api.post(API, json=spec("small")).status_code == 201  # one under the limit goes through
        assert rss_mb(controller.process.pid) < before + 30
    finally:
        controller.stop()


def test_the_docs_are_served_without_a_cdn(tmp_path):
    controller = start_controller(tmp_path, TOKEN, "--max-active-experiments", "0")
    try:
        with controller.client() as api:
            page = api.get("/docs")
            assert page.status_code == 200 and "swagger-ui-bundle.js" in page.text
            assert "http://" not in page.text and "https://" not in page.text  # every asset from this server
            for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "favicon.png", "redoc.standalone.js"):
                assert api.get(f"/docs-assets/{asset}").status_code == 200, asset
            assert "https://" not in api.get("/redoc").text
    finally:
        controller.stop()


def test_a_stored_spec_that_no_longer_validates_fails_alone(tmp_path):
    """Rows as an older, laxer controller could have left them: the controller starts, lists them as Failed
    with the rule, deletes them, and serves everything else."""
    store = Store(tmp_path / "controller.db")
    poison = {**ExperimentSpec(name="poison").model_dump(), "r2d2": {"replay": {"capacity": 757}}}
    store.insert(StoredExperiment(name="poison", spec=ExperimentSpec.model_construct(**poison), desired="running"))
    store.insert(StoredExperiment(name="broken", spec=ExperimentSpec(name="broken")))
    store.close()
    with sqlite3.connect(tmp_path / "controller.db") as db:
        db.execute("UPDATE experiments SET spec='{\"name\": \"broken\", \"actors\": \"many\"}' WHERE name='broken'")
    controller = start_controller(tmp_path, TOKEN)  # started at all: it used to exit 3
    try:
        with controller.client() as api:
            listed = {item["name"]: item["status"] for item in api.get(API).json()["items"]}
            assert {name: status["phase"] for name, status in listed.items()} == {"poison": "Failed", "broken": "Failed"}
            (condition,) = [c for c in listed["poison"]["conditions"] if c["type"] == "SpecValid"]
            assert condition["status"] == "False" and "r2d2.replay.min_fill" in condition["message"]
            assert "actors" in listed["broken"]["message"]
            assert api.get(f"{API}/poison").status_code == 200
            assert api.get(API, params={"phase": "Failed"}).json()["total"] == 2
            resumed = api.post(f"{API}/poison/resume")
            assert resumed.status_code == 422 and "min_fill" in resumed.json()["detail"]
            assert api.post(f"{API}/poison/scale", json={"actors": 1}).status_code == 422
            assert api.post(API, json=spec("healthy")).status_code == 201
            assert api.delete(f"{API}/poison", params={"force": "true"}).status_code == 204
            assert api.delete(f"{API}/broken").status_code == 204
            assert [item["name"] for item in api.get(API).json()["items"]] == ["healthy"]
            assert api.get("/readyz").status_code == 200
        assert "reconciling" not in controller.log.read_text()  # no pass failed on them
    finally:
        controller.stop()


def request_and_leave(url: str, path: str) -> socket.socket:
    """A raw GET of `path` with the token, left waiting; close the socket to leave."""
    host, port = url.removeprefix("http://").split(":")
    connection = socket.create_connection((host, int(port)))
    connection.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode())
    return connection


def export_pid(logdir: Path) -> int | None:
    """The pid of the export the controller runs for the experiment in `logdir`, if one runs."""
    pids = pids_with(f"seedrl.cli export --config {logdir}")
    assert len(pids) <= 1, pids  # one export at a time (--export-concurrency 1)
    return pids[0] if pids else None


@pytest.mark.slow
def test_exports_are_jobs_that_never_stall_the_api(tmp_path):
    """One job per checkpoint whoever asks; the checkpoint being exported survives its rotation; a stalled
    export holds no thread, so /healthz answers in 100 ms while it and dozens of requests wait; a bounded queue
    answers 429; a job nobody waits for is ended; the processes the controller starts do not carry its token."""
    controller = start_controller(tmp_path, TOKEN, "--export-concurrency", "1", "--export-queue", "1")
    logdir = tmp_path / "experiments" / "exp"
    exports = logdir / "exports"
    try:
        with controller.client() as api:
            body = spec("exp", checkpoint={"every_s": 1, "keep": 3})
            assert api.post(API, params={"start": "true"}, json=body).status_code == 201
            wait_for(lambda: len(api.get(f"{API}/exp/checkpoints").json()["items"]) >= 3, 180, what="checkpoints")
            for pid in pids_with(str(logdir)):
                assert b"SEEDRL_API_TOKEN" not in Path(f"/proc/{pid}/environ").read_bytes()
            newest = api.get(f"{API}/exp/checkpoints").json()["items"][-1]["name"]
            export = f"{API}/exp/checkpoints/{newest}/savedmodel"
            assert httpx.get(f"{controller.url}{export}").status_code == 401  # it starts a process: token needed

            # Twenty requests for one checkpoint while the learner rotates it out: one job, one process, one answer.
            results: list[httpx.Response] = []
            waiters = [threading.Thread(target=lambda: results.append(controller.client().get(export, timeout=300)))
                       for _ in range(20)]
            for thread in waiters:
                thread.start()
            wait_for(lambda: export_pid(logdir), 60, interval=0.05, what="the export process")
            for thread in waiters:
                thread.join(300)
                export_pid(logdir)
            assert newest not in [c["name"] for c in api.get(f"{API}/exp/checkpoints").json()["items"]]  # rotated out
            assert len(results) == 20 and {r.status_code for r in results} == {200}, {r.text[:200] for r in results}
            assert len({r.content for r in results}) == 1
            assert api.get(export).status_code == 404  # gone now, with its job

            # A stopped run keeps its last three checkpoints. An export that stalls (SIGSTOP) with 40 requests
            # waiting for it, a second export queued behind it, and a third refused: the API answers at once.
            api.post(f"{API}/exp/stop")
            wait_for(lambda: api.get(f"{API}/exp").json()["status"]["phase"] == "Stopped", 120, what="stopped")
            first, second, third = [c["name"] for c in api.get(f"{API}/exp/checkpoints").json()["items"][-3:]]
            stalled = [request_and_leave(controller.url, f"{API}/exp/checkpoints/{first}/savedmodel") for _ in range(40)]
            os.kill(wait_for(lambda: export_pid(logdir), 60, interval=0.05, what="the first export"), signal.SIGSTOP)
            queued = request_and_leave(controller.url, f"{API}/exp/checkpoints/{second}/savedmodel")
            wait_for(lambda: list(exports.glob(f".{second}-*.pinned")), 30, what="the second job queued (pinned)")
            full = api.get(f"{API}/exp/checkpoints/{third}/savedmodel")
            assert full.status_code == 429, full.text
            assert int(full.headers["retry-after"]) >= 1 and full.headers["content-type"] == PROBLEM
            latencies = []
            with httpx.Client(base_url=controller.url, timeout=5) as probe:
                for _ in range(20):
                    assert api.get(API).status_code == 200
                    started = time.perf_counter()
                    assert probe.get("/healthz").status_code == 200
                    latencies.append(time.perf_counter() - started)
            assert max(latencies) < 0.1, sorted(latencies)[-5:]

            # Everybody leaves: both jobs end (the stalled process is killed), nothing is left behind.
            for connection in [*stalled, queued]:
                connection.close()
            wait_for(lambda: export_pid(logdir) is None, 30, what="the stalled export ended")
            time.sleep(2)
            assert export_pid(logdir) is None  # the queued job ended with its last requester too
            assert not list(exports.glob(f"{first}-*")) and not list(exports.glob(f"{second}-*"))
            assert not list(exports.glob(".*"))  # no pins, no partial exports
            done = api.get(f"{API}/exp/checkpoints/{third}/savedmodel", timeout=300)  # the queue has room again
            assert done.status_code == 200 and done.headers["content-type"] == "application/gzip"
            started = time.monotonic()
            again = api.get(f"{API}/exp/checkpoints/{third}/savedmodel")  # kept: answered from disk, no process
            assert again.status_code == 200 and time.monotonic() - started < 5 and export_pid(logdir) is None
    finally:
        controller.stop()
    assert pids_with(str(tmp_path)) == []


@pytest.mark.slow
def test_a_stop_cut_short_by_a_killed_controller_is_finished_on_restart(tmp_path):
    controller = start_controller(tmp_path, TOKEN)
    logdir = tmp_path / "experiments" / "cut"
    try:
        with controller.client() as api:
            assert api.post(API, params={"start": "true"}, json=spec("cut", checkpoint={"every_s": 2})).status_code == 201
            wait_for(lambda: api.get(f"{API}/cut").json()["status"]["latest_checkpoint"], 180, what="a checkpoint")
            assert api.post(f"{API}/cut/stop").status_code == 202
        controller.stop(signal.SIGKILL)
        for pid in pids_with(str(logdir)):  # the stop goes on without it: the learner writes its final checkpoint
            os.kill(pid, signal.SIGTERM)
        wait_for(lambda: pids_with(str(logdir)) == [], 90, what="the run stopped")
        newest = max((logdir / "checkpoints").glob("ckpt-*.index"), key=lambda p: int(p.stem.split("-")[1])).stem
        controller = start_controller(tmp_path, TOKEN)
        with controller.client() as api:
            status = api.get(f"{API}/cut").json()["status"]
            assert status["phase"] == "Stopped" and "stopping" not in status["message"]
            assert status["latest_checkpoint"] == newest
    finally:
        controller.stop()
