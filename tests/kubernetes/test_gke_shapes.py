"""The real kube-scheduler against nodes of exactly the GKE shapes the guide uses (seedrl.spec.node_shapes):
an e2-standard-8 CPU node and a g2-standard-8 L4 node, each offering what GKE leaves allocatable there.

The experiment and the controller's options are those of the chart rendered with values-gke.yaml (fewer
actors, to fit one CPU node): its learner and actors are placed; a learner asking for the whole g2-standard-8
(8 CPUs, 32Gi, what the guide once asked) stays Pending with the scheduler's own reason. No kubelet runs:
the stand-in of tests/kubernetes/kubelet.py registers the nodes; GKE's Cloud Storage FUSE sidecar, which
its webhook would add to the learner pod, is not there (the spec's check counts it: tests/unit/test_node_shapes.py).
The nodes are tainted and labelled for this module alone, and removed after it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
import yaml

from seedrl.spec.experiment import ExperimentSpec
from seedrl.spec.node_shapes import SHAPES, MachineShape
from tests.helm.test_chart import render
from tests.kubernetes.client import Kube
from tests.kubernetes.flows import condition_message, conditions, kubectl, running_pods, settle
from tests.kubernetes.kubelet import Kubelet, NodePool

ROOT = Path(__file__).resolve().parents[2]
MARK = "seedrl.io/gke-shapes"
TAINT = {"key": MARK, "value": "true", "effect": "NoSchedule"}
SCHEDULING = {"node_selector": {MARK: "true"},
              "tolerations": [{"key": MARK, "operator": "Exists", "effect": "NoSchedule"}]}


def pool(name: str, shape: MachineShape, labels: dict[str, str], taints: tuple[dict[str, str], ...] = (),
         accelerators: dict[str, str] | None = None) -> NodePool:
    """One node of `shape`, offering its allocatable CPU and memory (what GKE's kubelet reports)."""
    return NodePool(name, 1, shape.name, f"{shape.allocatable_millicpu}m", f"{shape.allocatable_mib}Mi",
                    labels={MARK: "true", **labels}, taints=(TAINT, *taints), accelerators=accelerators or {})


POOLS = (
    pool("shapes-cpu", SHAPES["e2-standard-8"], {}),
    pool("shapes-l4", SHAPES["g2-standard-8"], {"cloud.google.com/gke-accelerator": "nvidia-l4"},
         ({"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"},), {"nvidia.com/gpu": "1"}),
)


@pytest.fixture(scope="module")
def shaped_nodes(kube: Kube) -> Iterator[Kubelet]:
    player = Kubelet(kube, POOLS).start()
    yield player
    player.stop()
    for name in player.nodes:
        kube.delete(f"/api/v1/nodes/{name}")
    assert not player.errors, player.errors


@pytest.fixture(scope="module")
def gke_chart() -> dict[str, dict]:
    return render(ROOT / "helm/seedrl/values-gke.yaml", sets=("experiments.storage.bucket=my-rl-project-seedrl",
                                                              "experiment.enabled=true"))


@pytest.fixture
def gke_runtime(make_runtime, gke_chart, namespace, control_plane):
    options = yaml.safe_load(gke_chart["ConfigMap/rl-seedrl-controller"]["data"]["kubernetes.yaml"])
    options.pop("namespace", None)
    # The pods' ServiceAccount, which docs/gke.md section 3 creates for Workload Identity.
    kubectl(control_plane, "-n", namespace.name, "create", "serviceaccount", options["service_account"])
    # The test namespace's Role is the default chart's, without NetworkPolicies, which scheduling ignores.
    return make_runtime(**{**options, "network_policy": False, "learner": SCHEDULING, "actor": SCHEDULING})


def gke_spec(gke_chart: dict[str, dict], **learner: str) -> ExperimentSpec:
    spec = dict(gke_chart["Experiment/pong"]["spec"])
    spec.pop("suspend")
    spec["actors"] = 3  # 3 x 2 CPUs fit the one e2-standard-8 node
    spec["resources"]["learner"] = {**spec["resources"]["learner"], **learner}
    return ExperimentSpec(name="pong", **spec)


def node_of(namespace, pod: dict) -> str:
    return namespace.kube.get(f"/api/v1/nodes/{pod['spec']['nodeName']}")["metadata"]["labels"]["cloud.google.com/gke-nodepool"]


def test_the_gke_values_experiment_is_placed_on_gke_shaped_nodes(shaped_nodes, gke_runtime, gke_chart, namespace):
    spec = gke_spec(gke_chart)
    assert spec.resources.learner.machine_type == "g2-standard-8"
    gke_runtime.create(spec, start=True)
    settle(gke_runtime, lambda: running_pods(namespace, "learner", "pong") and
           len(running_pods(namespace, "actor", "pong")) == 3, "the pods to be placed and run")
    assert node_of(namespace, running_pods(namespace, "learner", "pong")[0]) == "shapes-l4"
    assert {node_of(namespace, pod) for pod in running_pods(namespace, "actor", "pong")} == {"shapes-cpu"}


def test_a_learner_asking_for_the_whole_machine_is_refused_by_the_scheduler(shaped_nodes, gke_runtime, gke_chart,
                                                                            namespace):
    spec = gke_spec(gke_chart, cpu="8", memory="32Gi", machine_type=None)  # the spec check needs machine_type
    gke_runtime.create(spec, start=True)
    status = settle(gke_runtime, lambda: (s := gke_runtime.get("pong").status).conditions and
                    conditions(s).get("LearnerReady") == ("False", "Unschedulable") and
                    "Insufficient" in condition_message(s, "LearnerReady") and s, "Unschedulable")
    message = condition_message(status, "LearnerReady")
    assert "Insufficient cpu" in message and "Insufficient memory" in message
    assert not running_pods(namespace, "learner", "pong")
