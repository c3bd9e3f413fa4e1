"""Steps the Kubernetes tests share: specs, reconcile passes until something holds, a started experiment."""

from __future__ import annotations

import subprocess
import time
from typing import Any, Callable, TypeVar

from seedrl.spec.experiment import ExperimentSpec
from seedrl.controller.models import ExperimentStatus, Phase
from seedrl.controller.runtimes.kubernetes.options import KubernetesOptions
from seedrl.controller.runtimes.kubernetes.runtime import KubernetesRuntime
from tests.helm import tools
from tests.kubernetes.client import Object

NAME = "cartpole"
T = TypeVar("T")


def spec(name: str = NAME, **fields: Any) -> ExperimentSpec:
    return ExperimentSpec(name=name, **{"actors": 2, "envs_per_actor": 4, **fields})


def settle(runtime: KubernetesRuntime, check: Callable[[], T], what: str, timeout_s: float = 30.0) -> T:
    """Reconcile passes (the cluster's controllers and the kubelet work meanwhile) until `check()` is truthy."""
    deadline = time.monotonic() + timeout_s
    while True:
        runtime.reconcile_all()
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            seen = [(e.name, e.status.phase.value, e.status.message) for e in runtime.list(None, 100, 0)[0]]
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}; experiments: {seen}")
        time.sleep(0.1)


def conditions(status: ExperimentStatus) -> dict[str, tuple[str, str]]:
    """{type: (status, reason)} of a status's conditions."""
    return {condition.type: (condition.status, condition.reason) for condition in status.conditions}


def condition_message(status: ExperimentStatus, kind: str) -> str:
    return next(condition.message for condition in status.conditions if condition.type == kind)


def pod(namespace: Any, name: str) -> Object | None:
    return namespace.get("Pod", name)


def running_pods(namespace: Any, component: str, experiment: str = NAME) -> list[Object]:
    return [p for p in namespace.list("Pod", labelSelector=f"seedrl.io/experiment={experiment},"
                                                          f"app.kubernetes.io/component={component}")
            if p.get("status", {}).get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")]


def start_running(runtime: KubernetesRuntime, namespace: Any, learners: Any, name: str = NAME, **fields: Any):
    """Create and start an experiment; once the real controllers, scheduler and kubelet have its learner pod
    running, its (stand-in) learner answers; returns that learner when the phase is Running."""
    created = runtime.create(spec(name, **fields), start=True)
    settle(runtime, lambda: running_pods(namespace, "learner", name), f"{name}'s learner pod to run")
    learner = learners.serve(namespace, name)
    settle(runtime, lambda: (lambda s: s.phase == Phase.RUNNING and s.ready_actors == created.spec.actors)(
        runtime.get(name).status), f"{name} to run with its actors")
    return learner


def replicas(namespace: Any, kind: str, name: str) -> int:
    return namespace.get(kind, name)["spec"]["replicas"]


def options_for(namespace: Any, **fields: Any) -> KubernetesOptions:
    """The runtime's options in the tests: the test's namespace, no leader election (one runtime), and
    deadlines the tests pass by moving the reconciler's clock."""
    return KubernetesOptions.model_validate({"namespace": namespace.name, "leader_election": {"enabled": False},
                                             "start_timeout_s": 600, "stop_timeout_s": 60, **fields})


def kubectl(control_plane: Any, *args: str, stdin: str | None = None) -> str:
    """Run the real kubectl as the cluster administrator; its output (a failure raises with its message)."""
    result = subprocess.run([str(tools.kubectl()), f"--kubeconfig={control_plane.admin_kubeconfig}", *args],
                            input=stdin, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout
