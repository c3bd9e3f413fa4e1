"""Two controller replicas on one namespace, against the real API server: a coordination.k8s.io Lease
decides which one reconciles; both serve the REST API; when the leader dies another takes over within
the lease time, and nothing is applied by two replicas at once or lost in the handover."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from seedrl.common import metrics as m
from seedrl.common.ports import free_port
from seedrl.controller.models import Phase
from seedrl.controller.runtimes.kubernetes.api import ApiError
from seedrl.controller.runtimes.kubernetes.leader import LeaseElector
from seedrl.controller.runtimes.kubernetes.probe import GrpcLearnerProbe
from seedrl.controller.runtimes.kubernetes.runtime import KubernetesRuntime
from tests.kubernetes import v120
from tests.kubernetes.client import wait_for
from tests.kubernetes.flows import NAME, options_for, running_pods, spec

ROOT = Path(__file__).resolve().parents[2]
ELECTION = {"enabled": True, "lease_duration_s": 4, "renew_deadline_s": 2.0, "retry_period_s": 0.5}
WRITES = ("create", "replace", "apply", "merge_patch", "delete")


class Replica:
    """The API one controller replica talks through: it records the writes it made (when, from which
    thread) and can be cut off from the Lease alone, as a leader whose renewals stopped getting through."""

    def __init__(self, api: Any):
        self.api = api
        self.namespace = api.namespace
        self.writes: list[tuple[float, str, str, str]] = []  # (when, thread, verb, what)
        self.lease_cut = False

    def __getattr__(self, verb: str) -> Any:
        call = getattr(self.api, verb)

        def recorded(*args: Any, **kwargs: Any) -> Any:
            kind = args[0]["kind"] if isinstance(args[0], dict) else args[0]
            if kind == "Lease" and self.lease_cut:
                raise ApiError(0, "connection timed out", operation=f"{verb} Lease")
            result = call(*args, **kwargs)
            if verb in WRITES and kind != "Lease":
                self.writes.append((time.monotonic(), threading.current_thread().name, verb, kind))
            return result

        return recorded

    def reconciled(self) -> list[float]:
        """When the reconcile loop (not the REST API) wrote."""
        return [when for when, thread, _, _ in self.writes if thread == "reconcile"]


def lease_holder(namespace) -> str | None:
    lease = namespace.kube.get(f"/apis/coordination.k8s.io/v1/namespaces/{namespace.name}/leases/seedrl-controller")
    return lease["spec"].get("holderIdentity") if lease else None


def test_only_the_lease_holder_reconciles_and_another_takes_over_within_the_lease(namespace, learners):
    options = options_for(namespace, leader_election=ELECTION)
    replicas: dict[str, KubernetesRuntime] = {}
    for identity in ("replica-a", "replica-b"):
        api = Replica(v120.AdaptedApi(namespace.api()))
        replicas[identity] = KubernetesRuntime(api, options, m.Metrics("", "controller"),
                                               GrpcLearnerProbe(learners.address, timeout_s=1.0), poll_s=0.2,
                                               elector=LeaseElector(api, options.leader_election, identity))
    for runtime in replicas.values():
        runtime.open()
    try:
        leader_id = wait_for(lambda: lease_holder(namespace), "a leader")
        leader = replicas[leader_id]
        follower_id, follower = next((i, r) for i, r in replicas.items() if i != leader_id)
        assert leader.leads() and not follower.leads()

        follower.create(spec(), start=True)  # any replica serves the API
        wait_for(lambda: running_pods(namespace, "learner"), "the leader to start the learner")
        learners.serve(namespace, NAME)
        wait_for(lambda: follower.get(NAME).status.phase == Phase.RUNNING, "Running, as the follower reads it")
        assert leader.api.reconciled() and not follower.api.reconciled()
        started_at = follower.get(NAME).status.started_at
        secret = namespace.get("Secret", "cartpole-secret")["data"]
        generation = namespace.get("StatefulSet", "cartpole-learner")["metadata"]["generation"]
        assert wait_for(lambda: leader.ready() and follower.ready(), "both replicas to be ready")

        leader.api.lease_cut = True  # its renewals no longer get through
        cut = time.monotonic()
        readiness: list[bool] = []  # the follower's, sampled from before it takes the Lease until its first pass ends

        def taken_over() -> bool:
            readiness.append(follower.ready())
            return follower.leads() and any(when > cut for when in follower.api.reconciled())

        wait_for(taken_over, "the follower to lead and reconcile", timeout_s=15, every_s=0.01)
        assert all(readiness), readiness  # ready throughout: never 503 while it takes over
        wait_for(lambda: lease_holder(namespace) == follower_id, "the follower to take the Lease", timeout_s=15)
        handover = time.monotonic() - cut
        assert handover < ELECTION["lease_duration_s"] + 2 * ELECTION["retry_period_s"] + 1.5, handover
        assert not leader.leads()
        follower.stop(NAME)  # the new leader carries the stop through
        learners.down(NAME)
        wait_for(lambda: leader.get(NAME).status.phase == Phase.STOPPED, "Stopped, as the old leader reads it")

        # Never both: the old leader stopped writing before the new one's first write.
        taken = [when for when in follower.api.reconciled() if when > cut]
        assert taken and max(leader.api.reconciled()) < min(taken)
        status = follower.get(NAME).status
        assert status.started_at == started_at  # the run went on: no second start
        assert namespace.get("Secret", "cartpole-secret")["data"] == secret  # the new leader read it, made none
        assert namespace.get("StatefulSet", "cartpole-learner")["metadata"]["generation"] == generation + 1  # the stop
    finally:
        for runtime in replicas.values():
            runtime.close()


def controller(namespace, identity: str, config: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "KUBECONFIG": str(namespace.kubeconfig), "POD_NAME": identity, "PYTHONPATH": str(ROOT)}
    env.pop("SEEDRL_API_TOKEN", None)
    return subprocess.Popen([sys.executable, "-m", "tests.kubernetes.v120", "controller", "--runtime", "kubernetes",
                             "--kubernetes-config", str(config), "--port", str(port), "--poll-s", "0.3"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.integration
def test_killing_the_leader_process_hands_over_to_the_other(namespace, tmp_path):
    """Two real `seedrl controller` processes with the chart's credentials; the leader gets SIGKILL."""
    config = tmp_path / "kubernetes.yaml"
    config.write_text(yaml.safe_dump({"namespace": namespace.name, "poll_status_timeout_s": 0.2,
                                      "leader_election": {**ELECTION, "lease_duration_s": 2, "renew_deadline_s": 1.5}}))
    ports = {"controller-a": free_port(), "controller-b": free_port()}
    processes = {identity: controller(namespace, identity, config, port) for identity, port in ports.items()}
    try:
        wait_for(lambda: all(ready(port) for port in ports.values()), "both controllers to be ready", timeout_s=60)
        leader = wait_for(lambda: lease_holder(namespace), "a leader")
        survivor = next(identity for identity in ports if identity != leader)
        api = f"http://127.0.0.1:{ports[survivor]}/api/v1"
        assert httpx.post(f"{api}/experiments", params={"start": "true"}, json=spec("first").model_dump(mode="json"),
                          timeout=10).status_code == 201
        wait_for(lambda: namespace.get("StatefulSet", "first-learner"), "the leader to reconcile")

        processes[leader].send_signal(signal.SIGKILL)
        killed = time.monotonic()
        assert httpx.post(f"{api}/experiments", params={"start": "true"}, json=spec("second").model_dump(mode="json"),
                          timeout=10).status_code == 201
        wait_for(lambda: lease_holder(namespace) == survivor, "the survivor to take the Lease", timeout_s=15)
        assert time.monotonic() - killed < 2 + 2 * ELECTION["retry_period_s"] + 4.0  # the lease time, and slack for a loaded machine
        wait_for(lambda: namespace.get("StatefulSet", "second-learner"), "the survivor to reconcile")
        assert ready(ports[survivor])
    finally:
        for process in processes.values():
            process.kill()
            process.wait()
