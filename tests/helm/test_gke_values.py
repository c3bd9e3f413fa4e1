"""The chart as docs/gke.md installs it (values-gke.yaml and the guide's --set values), rendered by the real
helm: Managed Prometheus objects of the right shape, the controller reading the checkpoint bucket, no
placeholder bucket and no experiment created at install. No GKE API server runs here: the Managed
Prometheus objects are checked field by field against the fields of monitoring.googleapis.com/v1."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.helm.test_chart import render

ROOT = Path(__file__).resolve().parents[2]
GKE_VALUES = ROOT / "helm/seedrl/values-gke.yaml"
GUIDE_SETS = ("experiments.storage.bucket=my-project-seedrl", "controller.image.repository=r/seedrl-controller",
              "experiments.images.learner=r/seedrl-learner:0.1.0", "experiments.images.actor=r/seedrl-actor:0.1.0")
RULE_FIELDS = {"record", "alert", "expr", "for", "labels", "annotations"}
DURATION = re.compile(r"^[0-9]+(ms|s|m|h)$")


@pytest.fixture(scope="module")
def objects() -> dict[str, dict]:
    return render(GKE_VALUES, sets=GUIDE_SETS)


def test_the_gke_install_creates_no_experiment_so_the_guides_post_is_the_first(objects):
    assert not [key for key in objects if key.startswith("Experiment/")]


def test_managed_prometheus_objects_have_the_shape_gmp_reads(objects):
    monitorings = {key: obj for key, obj in objects.items() if obj["kind"] == "PodMonitoring"}
    assert set(monitorings) == {"PodMonitoring/rl-seedrl-controller", "PodMonitoring/rl-seedrl-experiments"}
    pods = {"controller": objects["Deployment/rl-seedrl-controller"]["spec"]["template"]}
    for key, monitoring in monitorings.items():
        assert monitoring["apiVersion"] == "monitoring.googleapis.com/v1"
        assert set(monitoring["spec"]) <= {"selector", "endpoints", "targetLabels", "limits"}
        for endpoint in monitoring["spec"]["endpoints"]:
            assert set(endpoint) <= {"port", "path", "interval", "timeout", "scheme"}
            assert DURATION.match(endpoint["interval"]) and endpoint["path"] == "/metrics"
    controller = pods["controller"]
    selector = monitorings["PodMonitoring/rl-seedrl-controller"]["spec"]["selector"]["matchLabels"]
    assert selector.items() <= controller["metadata"]["labels"].items()
    ports = {port["name"] for port in controller["spec"]["containers"][0]["ports"]}
    assert monitorings["PodMonitoring/rl-seedrl-controller"]["spec"]["endpoints"][0]["port"] in ports


def test_the_rules_are_the_charts_rules_with_an_interval(objects):
    rules = objects["Rules/rl-seedrl"]
    assert rules["apiVersion"] == "monitoring.googleapis.com/v1" and set(rules["spec"]) == {"groups"}
    source = yaml.safe_load((ROOT / "helm/seedrl/rules/seedrl.rules.yaml").read_text())["groups"]
    assert [group["name"] for group in rules["spec"]["groups"]] == [group["name"] for group in source]
    for group, original in zip(rules["spec"]["groups"], source):
        assert set(group) == {"name", "interval", "rules"} and DURATION.match(group["interval"])
        assert group["rules"] == original["rules"]
        for rule in group["rules"]:
            assert set(rule) <= RULE_FIELDS and ("record" in rule) != ("alert" in rule)
    assert "{{ $labels" in yaml.safe_dump(rules)  # Prometheus's own templates pass through helm untouched


def test_the_controller_reads_the_bucket_read_only_and_is_told_where(objects):
    pod = objects["Deployment/rl-seedrl-controller"]["spec"]["template"]
    container = pod["spec"]["containers"][0]
    assert "--checkpoints-dir=/checkpoints" in container["args"]
    mount = next(m for m in container["volumeMounts"] if m["name"] == "checkpoints")
    assert mount == {"name": "checkpoints", "mountPath": "/checkpoints", "readOnly": True}
    volume = next(v for v in pod["spec"]["volumes"] if v["name"] == "checkpoints")
    assert volume["csi"]["driver"] == "gcsfuse.csi.storage.gke.io" and volume["csi"]["readOnly"] is True
    assert volume["csi"]["volumeAttributes"]["bucketName"] == "my-project-seedrl"
    assert pod["metadata"]["annotations"]["gke-gcsfuse/volumes"] == "true"


def test_the_checkpoint_mount_needs_bucket_storage():
    with pytest.raises(AssertionError, match="needs experiments.storage.kind gcs"):
        render(sets=("controllerCheckpoints.enabled=true",))


def test_without_the_options_nothing_gke_specific_renders():
    objects = render()
    assert not [key for key, obj in objects.items() if obj["apiVersion"].startswith("monitoring.googleapis.com")]
    assert not any(arg.startswith("--checkpoints-dir")
                   for arg in objects["Deployment/rl-seedrl-controller"]["spec"]["template"]["spec"]["containers"][0]["args"])
