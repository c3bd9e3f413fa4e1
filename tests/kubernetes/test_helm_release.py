"""The chart as an operator uses it: `helm install`, `helm upgrade` and `helm uninstall` by the real helm
against the real API server, its controller running (in this process) with the ServiceAccount, Role and
settings the release created. Objects pass through the v1.20 adaptations (tests/kubernetes/v120.py: a
helm post-renderer, a chart copy that admits v1.20, the CRD installed adapted, hence --skip-crds)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Iterator

import pytest
import yaml

from seedrl.common import metrics as m
from seedrl.controller.models import Phase
from seedrl.controller.runtimes.kubernetes.api import KubeApi
from seedrl.controller.runtimes.kubernetes.leader import LeaseElector
from seedrl.controller.runtimes.kubernetes.options import KubernetesOptions
from seedrl.controller.runtimes.kubernetes.probe import GrpcLearnerProbe
from seedrl.controller.runtimes.kubernetes.runtime import KubernetesRuntime
from tests.helm import tools
from tests.kubernetes import v120
from tests.kubernetes.client import Kube, path, wait_for
from tests.kubernetes.conftest import Namespace
from tests.kubernetes.flows import NAME, condition_message, conditions, running_pods

RELEASE = "rl"
# What a namespace holds before anything is installed in it.
BUILT_IN = {("ConfigMap", "kube-root-ca.crt"), ("ServiceAccount", "default")}
KINDS = ("Deployment", "StatefulSet", "Service", "ConfigMap", "Secret", "ServiceAccount", "Role", "RoleBinding",
         "PodDisruptionBudget", "HorizontalPodAutoscaler", "Experiment", "PersistentVolumeClaim", "Pod")


@pytest.fixture
def release_namespace(control_plane, kube: Kube, kubelet, tmp_path: Path) -> Iterator[Namespace]:
    """An empty namespace (the release brings its own ServiceAccount and Role)."""
    name = f"release-{uuid.uuid4().hex[:5]}"
    kube.create(path("Namespace"), {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    yield Namespace(name, kube, tmp_path / "controller.kubeconfig")
    kube.delete(path("Namespace", name=name))


def objects(namespace: Namespace) -> set[tuple[str, str]]:
    found = {(kind, obj["metadata"]["name"]) for kind in KINDS for obj in namespace.list(kind)}
    return {(kind, name) for kind, name in found if not (kind == "Secret" and name.startswith("default-token-"))} - BUILT_IN


class Release:
    """helm on one release, with the v1.20 post-renderer."""

    def __init__(self, control_plane, namespace: Namespace, home: Path):
        plugins = home / "plugins"
        v120.post_renderer(plugins)
        self.chart = v120.chart(home)
        self.namespace = namespace
        self.env = {**os.environ, "KUBECONFIG": str(control_plane.admin_kubeconfig), "HELM_PLUGINS": str(plugins),
                    **{f"HELM_{part}_HOME": str(home / part.lower()) for part in ("CACHE", "CONFIG", "DATA")}}

    def __call__(self, command: str, *args: str) -> str:
        extra = ["--post-renderer", v120.PLUGIN, "--skip-crds"] if command in ("install", "upgrade") else []
        chart = [str(self.chart)] if command in ("install", "upgrade") else []
        return tools.run_helm(command, RELEASE, *chart, "--namespace", self.namespace.name, *extra, *args, env=self.env)


def controller(namespace: Namespace, control_plane, learners) -> KubernetesRuntime:
    """The chart's controller as its pod would run it: its ServiceAccount's token, its ConfigMap's settings,
    its leader Lease (no pod process runs here, so it runs in this process)."""
    token = namespace.kube.create(path("ServiceAccount", namespace.name, f"{RELEASE}-seedrl", "token"), {
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}})["status"]["token"]
    control_plane.kubeconfig(namespace.kubeconfig, token, namespace.name)
    settings = namespace.get("ConfigMap", f"{RELEASE}-seedrl-controller")["data"]["kubernetes.yaml"]
    options = KubernetesOptions.model_validate(yaml.safe_load(settings))
    api = v120.AdaptedApi(KubeApi(namespace.name, kubeconfig=namespace.kubeconfig))
    runtime = KubernetesRuntime(api, options, m.Metrics("", "controller"), GrpcLearnerProbe(learners.address, 1.0),
                                poll_s=0.2, elector=LeaseElector(api, options.leader_election, "rl-seedrl-controller-0"))
    runtime.open()
    return runtime


def learner_claim_size(namespace: Namespace) -> str:
    template = namespace.get("StatefulSet", "cartpole-learner")["spec"]["volumeClaimTemplates"][0]
    return template["spec"]["resources"]["requests"]["storage"]


def test_install_upgrade_and_uninstall_the_chart(release_namespace, control_plane, learners, tmp_path):
    namespace = release_namespace
    helm = Release(control_plane, namespace, tmp_path)
    helm("install", "--set", "experiment.enabled=true", "--wait", "--timeout", "120s")
    # Two controller replicas up (the played kubelet runs their pods), protected by the budget.
    assert namespace.get("Deployment", "rl-seedrl-controller")["status"]["readyReplicas"] == 2
    budget = wait_for(lambda: (s := namespace.get("PodDisruptionBudget", "rl-seedrl-controller").get("status", {}))
                      .get("currentHealthy") == 2 and s, "the disruption controller")
    assert (budget["expectedPods"], budget["disruptionsAllowed"]) == (2, 1)

    runtime = controller(namespace, control_plane, learners)
    try:
        wait_for(lambda: running_pods(namespace, "learner"), "the release's experiment to start", timeout_s=60)
        assert learner_claim_size(namespace) == "10Gi"
        learners.serve(namespace, NAME)
        wait_for(lambda: runtime.get(NAME).status.phase == Phase.RUNNING, "Running")
        learner_pod = running_pods(namespace, "learner")[0]["metadata"]["uid"]
    finally:
        runtime.close()

    # A new storage size changes what a StatefulSet cannot change in place; the controller restarts
    # with the new settings (the chart's checksum annotation rolls its pods).
    helm("upgrade", "--reuse-values", "--set", "experiments.storage.size=20Gi", "--wait", "--timeout", "120s")
    runtime = controller(namespace, control_plane, learners)
    try:
        status = wait_for(lambda: (s := runtime.get(NAME).status).conditions and "keeps its volumeClaimTemplates" in
                          condition_message(s, "Synced") and s, "the pass after the upgrade")
        assert conditions(status)["Synced"] == ("True", "Reconciled") and status.phase == Phase.RUNNING
        assert learner_claim_size(namespace) == "10Gi"  # the running learner keeps its volume
        assert running_pods(namespace, "learner")[0]["metadata"]["uid"] == learner_pod
        runtime.stop(NAME)
        learners.down(NAME)
        wait_for(lambda: runtime.get(NAME).status.phase == Phase.STOPPED, "Stopped", timeout_s=60)
        runtime.resume(NAME, None)
        wait_for(lambda: running_pods(namespace, "learner"), "the learner to start again", timeout_s=60)
        assert learner_claim_size(namespace) == "20Gi"  # its StatefulSet was made anew at the start
    finally:
        runtime.close()

    helm("uninstall", "--wait", "--timeout", "120s")
    # The garbage collector deletes what the Experiment owned; the learners' claims and the API token
    # (helm.sh/resource-policy: keep) stay, as docs/gke.md says.
    wait_for(lambda: objects(namespace) == {("PersistentVolumeClaim", "data-cartpole-learner-0"),
                                            ("Secret", "rl-seedrl-api-token")},
             f"only the documented objects to stay (now: {objects(namespace)})", timeout_s=60)
