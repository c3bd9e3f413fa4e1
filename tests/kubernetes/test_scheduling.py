"""The real kube-scheduler places an experiment's pods on GKE-shaped node pools (tests/kubernetes/kubelet.py):
a CPU pool, an L4 GPU pool (`nvidia.com/gpu`, the GKE accelerator label, the GPU taint) and a TPU v5e pool
(the TPU labels and taint, `google.com/tpu`). The learner lands where its ExperimentSpec resources say,
the actors on CPU nodes, and a request no pool can meet is reported with the scheduler's own reason.
No GPU or TPU exists here: the nodes only advertise them, which is all the scheduler reads."""

from __future__ import annotations

import pytest

from seedrl.controller.models import Phase
from tests.kubernetes.flows import NAME, condition_message, conditions, running_pods, settle, spec

PLACEMENTS = {
    "cpu": ({}, "default-pool"),
    "gpu": ({"gpu": 1, "gpu_type": "nvidia-l4", "cpu": "4", "memory": "16Gi"}, "l4-pool"),
    "tpu": ({"tpu": {"accelerator": "tpu-v5-lite-podslice", "topology": "2x2", "chips": 4}}, "v5e-pool"),
}


def pool_of(namespace, pod: dict) -> str:
    return namespace.kube.get(f"/api/v1/nodes/{pod['spec']['nodeName']}")["metadata"]["labels"]["cloud.google.com/gke-nodepool"]


@pytest.mark.parametrize("accelerator", PLACEMENTS)
def test_the_learner_lands_on_its_accelerator_pool_and_actors_on_cpu_nodes(accelerator, runtime, namespace):
    learner, pool = PLACEMENTS[accelerator]
    runtime.create(spec(resources={"learner": learner}), start=True)
    settle(runtime, lambda: running_pods(namespace, "learner") and len(running_pods(namespace, "actor")) == 2,
           "the pods to be placed and run")
    assert pool_of(namespace, running_pods(namespace, "learner")[0]) == pool
    assert {pool_of(namespace, pod) for pod in running_pods(namespace, "actor")} == {"default-pool"}


def test_a_request_no_pool_can_meet_is_reported_with_the_schedulers_reason(runtime, namespace):
    runtime.create(spec(resources={"learner": {"gpu": 8, "gpu_type": "nvidia-l4"}}), start=True)  # the pool has 1 per node
    # (until the claim is bound the scheduler names that first)
    status = settle(runtime, lambda: (s := runtime.get(NAME).status).conditions and
                    conditions(s).get("LearnerReady") == ("False", "Unschedulable") and
                    "Insufficient" in condition_message(s, "LearnerReady") and s, "Unschedulable")
    message = condition_message(status, "LearnerReady")
    assert message.startswith("pod cartpole-learner-0 cannot be scheduled: 0/5 nodes are available")
    assert "1 Insufficient nvidia.com/gpu" in message and status.message == message
    assert status.phase == Phase.PENDING
