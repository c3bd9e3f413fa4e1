"""The whole flow on a real cluster: skipped unless KUBECONFIG is set (docs/gke.md, "End-to-end test").

Expects the chart installed (namespace $SEEDRL_NAMESPACE, default `seedrl`) with images the
cluster can pull, and the API reachable at $SEEDRL_URL with $SEEDRL_API_TOKEN (e.g. through
`kubectl port-forward`). Works on kind (CPU learner) and GKE. It creates a CartPole experiment,
waits for it to run and count frames, scales it, stops it (final checkpoint), resumes it and
deletes it, checking the Kubernetes objects at each step with kubectl.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid

import httpx
import pytest

pytestmark = pytest.mark.skipif(not os.environ.get("KUBECONFIG"), reason="needs a cluster: set KUBECONFIG")
NAMESPACE = os.environ.get("SEEDRL_NAMESPACE", "seedrl")


def kubectl(*args: str) -> dict:
    out = subprocess.run(["kubectl", "-n", NAMESPACE, *args, "-o", "json"], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(3)
    raise AssertionError(f"timed out waiting for {what}")


def test_experiment_lifecycle_on_a_cluster():
    api = httpx.Client(base_url=os.environ.get("SEEDRL_URL", "http://localhost:8080") + "/api/v1", timeout=30,
                       headers={"Authorization": f"Bearer {os.environ.get('SEEDRL_API_TOKEN', '')}"})
    name = f"e2e-{uuid.uuid4().hex[:6]}"
    body = {"name": name, "env": "gym:CartPole-v1", "actors": 1, "envs_per_actor": 8, "total_frames": 10_000_000,
            "checkpoint": {"every_s": 30}, "resources": {"learner": {"cpu": "1", "memory": "2Gi"},
                                                          "actor": {"cpu": "250m", "memory": "512Mi"}}}
    assert api.post("/experiments", params={"start": "true"}, json=body).status_code == 201
    try:
        def status():
            return api.get(f"/experiments/{name}/status").json()

        wait(lambda: status()["phase"] == "Running" and status()["frames"] > 0, 900, "frames")
        assert kubectl("get", "experiment", name)["status"]["phase"] == "Running"
        assert api.post(f"/experiments/{name}/scale", json={"actors": 2}).status_code == 200
        wait(lambda: kubectl("get", "deployment", f"{name}-actors")["status"].get("readyReplicas") == 2, 600, "2 actors")
        assert api.post(f"/experiments/{name}/stop").status_code == 202
        wait(lambda: status()["phase"] == "Stopped", 600, "Stopped")
        assert status()["latest_checkpoint"], "the learner wrote no final checkpoint"
        frames = status()["frames"]
        assert api.post(f"/experiments/{name}/resume").status_code == 202
        wait(lambda: status()["phase"] == "Running" and status()["frames"] >= frames, 900, "resumed frames")
    finally:
        api.delete(f"/experiments/{name}", params={"force": "true", "delete_checkpoints": "true"})
    wait(lambda: not kubectl("get", "pods", "-l", f"seedrl.io/experiment={name}")["items"], 600, "pods gone")
