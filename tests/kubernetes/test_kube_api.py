"""`KubeApi` (the official client's REST layer) against the stand-in API server over real HTTP:
paths, verbs, content types, error mapping, and retries with backoff."""

from __future__ import annotations

import random

import pytest
import yaml

from seedrl.common.backoff import Backoff
from seedrl.controller.runtimes.kubernetes.api import AlreadyExistsError, ApiError, KubeApi, with_retries
from tests.kubernetes.standin import StandInApiServer, StandInCluster


@pytest.fixture
def server(tmp_path, monkeypatch):
    cluster = StandInCluster(namespace="rl")
    with StandInApiServer(cluster) as server:
        kubeconfig = {
            "apiVersion": "v1", "kind": "Config", "current-context": "standin",
            "clusters": [{"name": "standin", "cluster": {"server": server.url}}],
            "users": [{"name": "standin", "user": {"token": "t0ken"}}],
            "contexts": [{"name": "standin", "context": {"cluster": "standin", "user": "standin"}}],
        }
        path = tmp_path / "kubeconfig"
        path.write_text(yaml.safe_dump(kubeconfig))
        monkeypatch.setenv("KUBECONFIG", str(path))
        monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
        yield server


def config_map(name: str, value: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": {"app": "x"}},
            "data": {"key": value}}


def test_crud_over_http(server):
    api = KubeApi("rl", attempts=1)
    assert api.get("ConfigMap", "a") is None
    api.create(config_map("a", "1"))
    with pytest.raises(AlreadyExistsError):
        api.create(config_map("a", "1"))
    api.apply(config_map("a", "2"))
    api.apply(config_map("b", "3"))
    assert api.get("ConfigMap", "a")["data"] == {"key": "2"}
    assert sorted(obj["metadata"]["name"] for obj in api.list("ConfigMap", "app=x")) == ["a", "b"]
    assert api.list("ConfigMap", "app=y") == []
    api.merge_patch("ConfigMap", "b", {"data": {"key": None, "other": "4"}})
    assert api.get("ConfigMap", "b")["data"] == {"other": "4"}
    api.delete("ConfigMap", "a")
    api.delete("ConfigMap", "a")  # gone already: no error
    assert api.get("ConfigMap", "a") is None
    methods = {(method, content) for method, _, content in server.requests}
    assert ("PATCH", "application/apply-patch+yaml") in methods and ("PATCH", "application/merge-patch+json") in methods
    apply_path = next(path for method, path, content in server.requests if content.startswith("application/apply"))
    assert apply_path.startswith("/api/v1/namespaces/rl/configmaps/a?") and "fieldManager=seedrl-controller" in apply_path
    assert "force=true" in apply_path


def test_transient_errors_are_retried_and_others_are_not(server):
    api = KubeApi("rl", attempts=4)
    server.cluster.fail_next(2, status=503)
    api.apply(config_map("a", "1"))  # two refusals, then through
    assert server.cluster.get("ConfigMap", "a") is not None
    server.cluster.fail_next(1, status=403)
    with pytest.raises(ApiError) as error:
        api.get("ConfigMap", "a")
    assert error.value.status == 403
    server.cluster.fail_next(4, status=429)
    with pytest.raises(ApiError):
        api.get("ConfigMap", "a")  # still refused after every attempt


def test_with_retries_backs_off_exponentially():
    waits: list[float] = []
    outcomes = iter([ApiError(0, "connection refused"), ApiError(500, "x"), ApiError(503, "x"), "ok"])

    def call():
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert with_retries(call, "test", attempts=5, backoff=Backoff(1.0, 100.0, random.Random(0)), sleep=waits.append) == "ok"
    assert len(waits) == 3 and waits[0] <= 1.0 and waits[1] <= 2.0 and waits[2] <= 4.0
    assert all(wait >= 0.5 for wait in waits)
