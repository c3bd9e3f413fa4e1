"""An experiment's actors scaled through its scale subresource (`spec.actors`, `status.ready_actors`,
`status.actor_selector`), as `kubectl scale experiment` and a HorizontalPodAutoscaler do, against the
real API server and the real HPA controller."""

from __future__ import annotations

import json

import yaml

from seedrl.controller.models import Phase
from tests.helm import tools
from tests.kubernetes import v120
from tests.kubernetes.client import path, wait_for
from tests.kubernetes.flows import NAME, kubectl, replicas, running_pods, settle, start_running


def test_kubectl_scale_experiment(runtime, namespace, learners, control_plane):
    start_running(runtime, namespace, learners)
    kubectl(control_plane, "-n", namespace.name, "scale", "experiment", NAME, "--replicas", "3")
    settle(runtime, lambda: len(running_pods(namespace, "actor")) == 3 and runtime.get(NAME).status.ready_actors == 3,
           "3 actors")
    assert replicas(namespace, "Deployment", "cartpole-actors") == 3
    scale = json.loads(kubectl(control_plane, "-n", namespace.name, "get", "--raw",
                               f"/apis/seedrl.io/v1alpha1/namespaces/{namespace.name}/experiments/{NAME}/scale"))
    assert (scale["spec"]["replicas"], scale["status"]["replicas"]) == (3, 3)
    assert scale["status"]["selector"] == "seedrl.io/experiment=cartpole,app.kubernetes.io/component=actor"
    assert runtime.get(NAME).status.phase == Phase.RUNNING


def test_the_charts_hpa_scales_the_actors_through_the_experiment(runtime, namespace, learners):
    """The chart's HorizontalPodAutoscaler (minActors 3 here) makes the real HPA controller scale the
    Experiment, which the runtime turns into actor pods; no metrics server runs, so it acts on its bounds."""
    start_running(runtime, namespace, learners)
    rendered = tools.run_helm("template", "rl", str(v120.CHART), "--namespace", namespace.name,
                              "--show-only", "templates/experiment.yaml", "--set", "experiment.enabled=true",
                              "--set", "experiment.autoscaling.enabled=true", "--set", "experiment.autoscaling.minActors=3",
                              "--set", "experiment.autoscaling.maxActors=6")
    hpa = next(doc for doc in yaml.safe_load_all(rendered) if doc["kind"] == "HorizontalPodAutoscaler")
    namespace.kube.create(path("HorizontalPodAutoscaler", namespace.name), v120.adapt(hpa))
    wait_for(lambda: namespace.get("Experiment", NAME)["spec"]["actors"] == 3, "the HPA to scale the experiment")
    settle(runtime, lambda: runtime.get(NAME).status.ready_actors == 3, "3 actors")
    status = wait_for(lambda: (s := namespace.get("HorizontalPodAutoscaler", "cartpole-actors").get("status", {}))
                      .get("currentReplicas") == 3 and s, "the HPA to see 3 actors")
    assert status["desiredReplicas"] == 3
