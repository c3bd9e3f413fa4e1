"""Fixtures for the Kubernetes runtime and chart against a real control plane.

- `control_plane` (session): etcd, kube-apiserver, kube-controller-manager and kube-scheduler v1.20.2
  on free ports (tests/kubernetes/control_plane.py says where the binaries come from; without them and
  without the tool that builds them, every test here skips with the reason). The Experiment CRD, adapted
  for v1.20 (tests/kubernetes/v120.py), is installed before the controllers start, so the
  controller-manager's HPA controller knows its scale subresource from the first moment.
- `kubelet` (session): GKE-shaped node pools played by `tests/kubernetes/kubelet.py`.
- `namespace`: a fresh namespace per test holding the chart's own ServiceAccount, Role and RoleBinding
  (rendered by the real helm), and a kubeconfig with that ServiceAccount's token: the runtime under test
  has exactly the chart's permissions, never an admin's.
- `learners`: stand-ins for learner processes (no pod runs here), answering GetStatus over real gRPC only to
  callers that present the experiment's secret (read from its Secret, checked by the learner's own interceptor).
- `runtime`: the KubernetesRuntime under test, on the namespace's credentials, passes driven by the test.
"""

from __future__ import annotations

import asyncio
import math
import re
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Coroutine, Iterator, TypeVar

import grpc
import pytest
import yaml

from seedrl.common import metrics as m
from seedrl.common.ports import free_port
from seedrl.controller.runtimes.kubernetes import manifests as mf
from seedrl.controller.runtimes.kubernetes.api import KubeApi
from seedrl.controller.runtimes.kubernetes.probe import GrpcLearnerProbe
from seedrl.controller.runtimes.kubernetes.runtime import KubernetesRuntime
from seedrl.learner.auth import SecretCheck
from seedrl.v1 import learner_pb2 as pb
from seedrl.v1 import learner_pb2_grpc as pb_grpc
from tests.helm import tools
from tests.kubernetes import v120
from tests.kubernetes.client import Kube, Object, path, wait_for
from tests.kubernetes.control_plane import ControlPlane, missing_reason
from tests.kubernetes.flows import options_for
from tests.kubernetes.kubelet import Kubelet
from tests.setup_tools import build_kcp

RELEASE = "rl"
SERVICE_ACCOUNT = f"{RELEASE}-seedrl"
ROLE = f"{RELEASE}-seedrl-controller"
PLACEHOLDER = "namespace-placeholder"
T = TypeVar("T")


def admin(plane: ControlPlane) -> Kube:
    return Kube(plane.url, plane.token, str(plane.ca_file))


def install_crd(plane: ControlPlane) -> None:
    kube = admin(plane)
    kube.create(path("CustomResourceDefinition"), v120.crd())
    wait_for(lambda: any(c["type"] == "Established" and c["status"] == "True" for c in kube.get(
        path("CustomResourceDefinition", name="experiments.seedrl.io")).get("status", {}).get("conditions") or []),
        "the Experiment CRD to be established")
    kube.close()


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    reason = missing_reason()
    if reason:
        pytest.skip(reason)
    build_kcp()
    plane = ControlPlane(tmp_path_factory.mktemp("kube-control-plane"))
    try:
        plane.start(setup=install_crd)
        yield plane
    finally:
        plane.stop()


@pytest.fixture(scope="session")
def kube(control_plane: ControlPlane) -> Iterator[Kube]:
    client = admin(control_plane)
    yield client
    client.close()


@pytest.fixture(scope="session")
def kubelet(kube: Kube) -> Iterator[Kubelet]:
    player = Kubelet(kube).start()
    yield player
    player.stop()
    assert not player.errors, player.errors


@pytest.fixture(scope="session")
def chart_rbac() -> str:
    """The chart's ServiceAccount, Role and RoleBinding as helm renders them (namespace: a placeholder)."""
    return tools.run_helm("template", RELEASE, str(v120.CHART), "--namespace", PLACEHOLDER,
                          "--show-only", "templates/serviceaccount.yaml", "--show-only", "templates/rbac.yaml")


@dataclass
class Namespace:
    """A test's namespace, with the chart's controller ServiceAccount and its kubeconfig."""

    name: str
    kube: Kube
    kubeconfig: Path

    def api(self) -> KubeApi:
        """The product's API client with the chart's ServiceAccount credentials."""
        return KubeApi(self.name, kubeconfig=self.kubeconfig, attempts=3)

    def get(self, kind: str, name: str) -> Object | None:
        return self.kube.get(path(kind, self.name, name))

    def list(self, kind: str, **params: str) -> list[Object]:
        return self.kube.list(path(kind, self.name), **params)

    def role(self) -> Object:
        return self.kube.get(path("Role", self.name, ROLE))

    def set_role_rules(self, rules: list[Object]) -> None:
        """Replace the chart Role's rules (and wait until RBAC enforces them)."""
        role = self.role()
        role["rules"] = rules
        self.kube.request("PUT", path("Role", self.name, ROLE), role)
        self.wait_for_rbac(rules)

    def wait_for_rbac(self, rules: list[Object]) -> None:
        """RBAC caches roles: wait until a SubjectAccessReview agrees with `rules` on each rule's first verb."""
        for rule in rules:
            self._wait_allowed(rule["apiGroups"][0], rule["resources"][0], rule["verbs"][0], True,
                               (rule.get("resourceNames") or [""])[0])

    def _wait_allowed(self, group: str, resource: str, verb: str, allowed: bool, name: str = "") -> None:
        resource, _, subresource = resource.partition("/")
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": {
            "user": f"system:serviceaccount:{self.name}:{SERVICE_ACCOUNT}",
            "groups": ["system:serviceaccounts", f"system:serviceaccounts:{self.name}", "system:authenticated"],
            "resourceAttributes": {"namespace": self.name, "group": group, "resource": resource,
                                   "subresource": subresource, "verb": verb, "name": name}}}
        wait_for(lambda: self.kube.create("/apis/authorization.k8s.io/v1/subjectaccessreviews", review)
                 ["status"].get("allowed", False) == allowed, f"RBAC to {'allow' if allowed else 'deny'} {verb} {resource}")

    def forbid(self, group: str, resource: str) -> list[Object]:
        """Drop the chart Role's rules on `resource`; the rules as they were, for `set_role_rules`."""
        rules = self.role()["rules"]
        self.set_role_rules([rule for rule in rules if resource not in rule["resources"]])
        self._wait_allowed(group, resource, "patch", False)
        return rules


def _sanitize(name: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:40].strip("-")


@pytest.fixture
def namespace(request: pytest.FixtureRequest, control_plane: ControlPlane, kube: Kube, kubelet: Kubelet,
              chart_rbac: str, tmp_path: Path) -> Iterator[Namespace]:
    name = f"{_sanitize(request.node.name.removeprefix('test_'))}-{uuid.uuid4().hex[:5]}"
    kube.create(path("Namespace"), {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    for obj in yaml.safe_load_all(chart_rbac.replace(PLACEHOLDER, name)):
        if obj:
            kube.create(path(obj["kind"], name), obj)
    token = kube.create(path("ServiceAccount", name, SERVICE_ACCOUNT, "token"), {
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 3600}},
    )["status"]["token"]
    created = Namespace(name, kube, control_plane.kubeconfig(tmp_path / "controller.kubeconfig", token, name))
    created.wait_for_rbac(created.role()["rules"])
    yield created
    kubelet.forget(name)
    kube.delete(path("Namespace", name=name))


class StandInLearner(pb_grpc.LearnerServicer):
    """A learner's GetStatus over real gRPC, answering whatever status the test sets (no TensorFlow)."""

    def __init__(self) -> None:
        self.status = pb.LearnerStatus(mean_return_100=math.nan, last_checkpoint_step=-1)
        self.metrics = m.Metrics("", "learner")

    async def GetStatus(self, request: pb.StatusRequest, context: grpc.aio.ServicerContext) -> pb.LearnerStatus:
        return self.status

    def refused(self, reason: str) -> float:
        """Calls refused as UNAUTHENTICATED for `reason` (missing, wrong)."""
        labels = {"experiment": "", "role": "learner", "reason": reason}
        return self.metrics.registry.get_sample_value(f"{m.UNAUTHENTICATED_CALLS.name}_total", labels) or 0.0


class Learners:
    """Stand-in learners by experiment name (no learner pod can run here), each at a fixed address, as a
    learner's DNS name is; an experiment whose learner is not up has nothing listening there.

    Like the real learner, a stand-in requires the experiment's secret, which it reads from the Secret the
    runtime made (as the learner reads the file that Secret is mounted as), through the learner's own
    interceptor: a call without it is refused as UNAUTHENTICATED. The servers share one event loop thread.
    """

    def __init__(self) -> None:
        self._servers: dict[str, grpc.aio.Server] = {}
        self._ports: dict[str, int] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="stand-in-learners", daemon=True)
        self._thread.start()

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=30)

    def serve(self, namespace: Namespace, experiment: str) -> StandInLearner:
        secret = namespace.get("Secret", mf.secret_name(experiment))
        assert secret is not None, f"{experiment} has no Secret for its learner to require"
        servicer = StandInLearner()

        async def start() -> grpc.aio.Server:
            server = grpc.aio.server(interceptors=[SecretCheck(mf.secret_value(secret), servicer.metrics)])
            pb_grpc.add_LearnerServicer_to_server(servicer, server)
            server.add_insecure_port(self.address(experiment))
            await server.start()
            return server

        self._servers[experiment] = self._run(start())
        return servicer

    def down(self, experiment: str) -> None:
        self._run(self._servers.pop(experiment).stop(None))

    def address(self, experiment: str) -> str:
        port = self._ports.setdefault(experiment, free_port())
        return f"127.0.0.1:{port}"

    def close(self) -> None:
        for name in list(self._servers):
            self.down(name)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()


@pytest.fixture
def learners() -> Iterator[Learners]:
    learners = Learners()
    yield learners
    learners.close()


class Clock:
    """The reconciler's clock: real time plus an offset a test moves forward (deadlines without waiting)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(timezone.utc) + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_runtime(namespace: Namespace, learners: Learners, clock: Clock) -> Iterator[Callable[..., KubernetesRuntime]]:
    """`make_runtime(**options)`: a runtime on the namespace with the chart's credentials, objects adapted for v1.20."""
    probes: list[GrpcLearnerProbe] = []

    def make(max_active: int = 2, **fields: object) -> KubernetesRuntime:
        probe = GrpcLearnerProbe(learners.address, timeout_s=1.0)
        probes.append(probe)
        return KubernetesRuntime(v120.AdaptedApi(namespace.api()), options_for(namespace, **fields),
                                 m.Metrics("", "controller"), probe, max_active=max_active, clock=clock)

    yield make
    for probe in probes:
        probe.close()


@pytest.fixture
def runtime(make_runtime: Callable[..., KubernetesRuntime]) -> KubernetesRuntime:
    return make_runtime()
