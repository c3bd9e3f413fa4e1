"""`KubeApi` (the official client's REST layer) against the real kube-apiserver, with the chart's
ServiceAccount: server-side apply and its field manager, conflicts, 409 on stale writes, the server's
errors as ApiError (reason and message), and which failures are retried."""

from __future__ import annotations

import logging
import random
import time

import pytest

from seedrl.common.backoff import Backoff
from seedrl.spec.experiment import ExperimentSpec
from seedrl.controller.runtimes.kubernetes import manifests as mf
from seedrl.controller.runtimes.kubernetes.api import (
    AlreadyExistsError, ApiError, ConflictError, KubeApi, error_for, with_retries,
)
from seedrl.controller.runtimes.kubernetes.options import KubernetesOptions
from tests.kubernetes.client import KubeError, path


def config_map(name: str, value: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": {"app": "x"}},
            "data": {"key": value}}


def test_crud_and_server_side_apply_with_the_controllers_field_manager(namespace):
    api = namespace.api()
    assert api.get("ConfigMap", "a") is None
    api.create(config_map("a", "1"))
    with pytest.raises(AlreadyExistsError):
        api.create(config_map("a", "1"))
    api.apply(config_map("a", "2"))
    api.apply(config_map("b", "3"))
    assert api.get("ConfigMap", "a")["data"] == {"key": "2"}
    assert sorted(obj["metadata"]["name"] for obj in api.list("ConfigMap", "app=x")) == ["a", "b"]
    assert api.list("ConfigMap", "app=y") == []
    managers = {(entry["manager"], entry["operation"]) for entry in api.get("ConfigMap", "b")["metadata"]["managedFields"]}
    assert managers == {("seedrl-controller", "Apply")}
    api.merge_patch("ConfigMap", "b", {"data": {"key": None, "other": "4"}})
    assert api.get("ConfigMap", "b")["data"] == {"other": "4"}
    api.delete("ConfigMap", "a")
    api.delete("ConfigMap", "a")  # gone already: no error
    assert api.get("ConfigMap", "a") is None


def test_apply_takes_its_fields_back_from_another_manager(namespace):
    """Someone edits a field the controller applies: a plain apply by them conflicts, a forced one wins,
    and the controller's next apply (forced) takes the field back."""
    api, kube = namespace.api(), namespace.kube
    api.apply(config_map("a", "mine"))
    where = path("ConfigMap", namespace.name, "a")
    with pytest.raises(KubeError) as conflict:
        kube.request("PATCH", where, config_map("a", "theirs"), "application/apply-patch+yaml", fieldManager="someone")
    assert conflict.value.status == 409 and 'conflict with "seedrl-controller"' in conflict.value.message
    kube.apply(where, config_map("a", "theirs"), manager="someone")
    assert api.get("ConfigMap", "a")["data"]["key"] == "theirs"
    api.apply(config_map("a", "mine"))
    owners = {entry["manager"] for entry in api.get("ConfigMap", "a")["metadata"]["managedFields"]
              if "f:key" in str(entry.get("fieldsV1", {}))}
    assert api.get("ConfigMap", "a")["data"]["key"] == "mine" and owners == {"seedrl-controller"}


def test_a_write_from_a_stale_read_gets_409(namespace):
    api = namespace.api()
    read = api.create(config_map("a", "1"))
    api.merge_patch("ConfigMap", "a", {"data": {"key": "2"}})  # someone else's write
    with pytest.raises(ConflictError) as stale:
        api.merge_patch("ConfigMap", "a", {"metadata": {"resourceVersion": read["metadata"]["resourceVersion"]},
                                           "data": {"key": "3"}})
    assert stale.value.status == 409 and stale.value.reason == "Conflict"
    assert "the object has been modified" in stale.value.message
    assert api.get("ConfigMap", "a")["data"]["key"] == "2"


def test_permanent_rejections_raise_at_once_with_the_servers_words(namespace, caplog):
    """403 (RBAC), 422 (validation) and a 500 from a field the server's schema lacks are not retried:
    each raises after one request, naming what was attempted, the reason and the server's message."""
    api = namespace.api()
    learner = mf.learner_stateful_set(ExperimentSpec(name="x"), mf.Owner("x", "uid", namespace.name),
                                      KubernetesOptions(), 1)  # gRPC probes: a v1.20 server has no such field
    bad_name = config_map("Not_A_Name", "1")
    cases = [
        (lambda: api.list("Secret"), 403, "Forbidden", f"system:serviceaccount:{namespace.name}:rl-seedrl"),
        (lambda: api.apply(bad_name), 422, "Invalid", "a lowercase RFC 1123 subdomain"),
        (lambda: api.apply(learner), 500, "InternalError", "field not declared in schema"),
    ]
    caplog.set_level(logging.WARNING)
    for call, status, reason, words in cases:
        started = time.monotonic()
        with pytest.raises(ApiError) as error:
            call()
        assert time.monotonic() - started < 0.5  # no backoff (the old code waited about 2.6 s on the 500)
        assert (error.value.status, error.value.reason) == (status, reason) and words in str(error.value)
    assert "x-learner" in str(error.value) and error.value.operation == "apply StatefulSet/x-learner"
    assert not [record for record in caplog.records if "retry" in record.getMessage()]


def test_an_unreachable_server_is_retried_with_backoff(control_plane, tmp_path, caplog):
    from seedrl.common.ports import free_port

    kubeconfig = control_plane.kubeconfig(tmp_path / "kubeconfig", "token")
    kubeconfig.write_text(kubeconfig.read_text().replace(f":{control_plane.api_port}", f":{free_port()}"))
    caplog.set_level(logging.WARNING)
    with pytest.raises(ApiError) as error:
        KubeApi("default", kubeconfig=kubeconfig, attempts=3, timeout_s=1).get("ConfigMap", "a")
    assert error.value.status == 0 and error.value.transient
    assert len([record for record in caplog.records if "retry" in record.getMessage()]) == 2


def test_which_failures_are_transient():
    assert [error_for(status, "").transient for status in (0, 429, 500, 502, 503, 504, 400, 403, 404, 409, 422)] == \
        [True, True, False, True, True, True, False, False, False, False, False]
    assert error_for(500, '{"message": "etcd busy"}', retry_after=True).transient
    assert type(error_for(409, '{"reason": "AlreadyExists"}')).__name__ == "AlreadyExistsError"
    assert type(error_for(409, '{"reason": "Conflict"}')).__name__ == "ConflictError"


def test_with_retries_backs_off_exponentially():
    waits: list[float] = []
    outcomes = iter([ApiError(0, "connection refused"), ApiError(429, "x"), ApiError(503, "x"), "ok"])

    def call():
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert with_retries(call, "test", attempts=5, backoff=Backoff(1.0, 100.0, random.Random(0)), sleep=waits.append) == "ok"
    assert len(waits) == 3 and waits[0] <= 1.0 and waits[1] <= 2.0 and waits[2] <= 4.0
    assert all(wait >= 0.5 for wait in waits)
