"""The Helm chart, rendered by the real `helm` binary over a matrix of values files, every object
validated strictly against the Kubernetes 1.30 and newest schemas; Experiments against the CRD;
Prometheus Operator objects (no schema offline) checked field by field."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from seedrl.spec import env
from seedrl.controller.runtimes.kubernetes.options import KubernetesOptions
from tests.helm import tools
from tests.kubernetes.test_crd import validator as crd_validator

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "seedrl"
VALUES = sorted((Path(__file__).parent / "values").glob("*.yaml"))
OPERATOR_KINDS = {"ServiceMonitor", "PodMonitor", "PrometheusRule"}
VERSIONS = ["1.30.0", kubernetes_validate.latest_version()]


helm = tools.run_helm


def render(*values: Path, sets: tuple[str, ...] = ()) -> dict[str, dict]:
    args = ["template", "rl", str(CHART), "--namespace", "seedrl"]
    for path in values:
        args += ["-f", str(path)]
    for item in sets:
        args += ["--set", item]
    documents = [doc for doc in yaml.safe_load_all(helm(*args)) if doc]
    return {f"{doc['kind']}/{doc['metadata']['name']}": doc for doc in documents}


def test_lint_strict_with_every_values_file():
    for path in [None, *VALUES]:
        helm("lint", "--strict", str(CHART), *(["-f", str(path)] if path else []))


def test_the_schema_refuses_bad_values():
    result = subprocess.run([str(tools.helm()), "template", "rl", str(CHART), "--set", "experiments.storage.kind=s3"],
                            capture_output=True, text=True)
    assert result.returncode != 0 and "storage" in result.stderr
    result = subprocess.run([str(tools.helm()), "template", "rl", str(CHART), "--set", "controler.port=1"],
                            capture_output=True, text=True)
    assert result.returncode != 0 and "controler" in result.stderr


@pytest.mark.parametrize("values", VALUES, ids=lambda path: path.stem)
def test_every_rendered_object_is_valid(values):
    objects = render(values)
    for key, obj in objects.items():
        if obj["kind"] in OPERATOR_KINDS:
            continue
        if obj["kind"] == "Experiment":
            crd_validator().validate(obj["spec"])
            continue
        for version in VERSIONS:
            kubernetes_validate.validate(obj, version, strict=True)
    options = objects["ConfigMap/rl-seedrl-controller"]["data"]["kubernetes.yaml"]
    KubernetesOptions.model_validate(yaml.safe_load(options))  # what the controller will load


def test_controller_options_follow_the_values():
    objects = render(Path(__file__).parent / "values" / "tpu.yaml", sets=("experiments.allowCustomEnvs=true",))
    options = KubernetesOptions.model_validate(yaml.safe_load(objects["ConfigMap/rl-seedrl-controller"]["data"]["kubernetes.yaml"]))
    assert options.storage.kind == "gcs" and options.storage.bucket == "rl-checkpoints"
    assert options.service_account == "seedrl-runs" and options.allow_custom_envs and options.namespace == "seedrl"
    controller = objects["Deployment/rl-seedrl-controller"]["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "SEEDRL_ALLOW_CUSTOM_ENVS", "value": "1"} in controller["env"]
    tpu = objects["Experiment/cartpole"]["spec"]["resources"]["learner"]["tpu"]
    assert tpu == {"accelerator": "tpu-v5-lite-podslice", "topology": "2x4", "chips": 8}


def test_the_level_cache_roots_value_reaches_the_controllers_admission(monkeypatch):
    def controller_env(objects: dict[str, dict]) -> dict[str, str]:
        container = objects["Deployment/rl-seedrl-controller"]["spec"]["template"]["spec"]["containers"][0]
        return {item["name"]: item.get("value") for item in container["env"]}

    assert env.LEVEL_CACHE_ROOTS not in controller_env(render())  # default: no roots, relative folders only
    roots = controller_env(render(sets=("experiments.levelCacheRoots={gs://rl-levels/cache,/mnt/levels}",)))
    monkeypatch.setenv(env.LEVEL_CACHE_ROOTS, roots[env.LEVEL_CACHE_ROOTS])
    assert env.level_cache_roots() == ["gs://rl-levels/cache", "/mnt/levels"]
    env.check_level_cache("gs://rl-levels/cache/lab", env.level_cache_roots())
    with pytest.raises(ValueError, match="outside the allowed level caches"):
        env.check_level_cache("gs://other/cache", env.level_cache_roots())


def test_gpu_values_reach_the_experiment_and_the_learner_scheduling():
    objects = render(Path(__file__).parent / "values" / "gpu.yaml")
    learner = objects["Experiment/pong"]["spec"]["resources"]["learner"]
    assert learner["gpu"] == 1 and learner["gpu_type"] == "nvidia-l4"
    options = KubernetesOptions.model_validate(yaml.safe_load(objects["ConfigMap/rl-seedrl-controller"]["data"]["kubernetes.yaml"]))
    assert options.learner.tolerations == [{"key": "dedicated", "operator": "Equal", "value": "learners", "effect": "NoSchedule"}]


def test_two_controller_replicas_roll_under_a_disruption_budget_and_elect_a_leader():
    objects = render(sets=("controller.leaderElection.leaseDurationSeconds=30",))
    deployment = objects["Deployment/rl-seedrl-controller"]["spec"]
    assert deployment["replicas"] == 2
    assert deployment["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    env = deployment["template"]["spec"]["containers"][0]["env"]
    assert {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}} in env
    assert objects["PodDisruptionBudget/rl-seedrl-controller"]["spec"]["maxUnavailable"] == 1
    options = KubernetesOptions.model_validate(yaml.safe_load(objects["ConfigMap/rl-seedrl-controller"]["data"]["kubernetes.yaml"]))
    assert options.leader_election.enabled and options.leader_election.lease_duration_s == 30
    assert (options.start_timeout_s, options.stop_timeout_s) == (1800, 300)


def test_controller_is_hardened():
    pod = render()["Deployment/rl-seedrl-controller"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    container = pod["containers"][0]
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                            "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}}
    assert "--runtime=kubernetes" in container["args"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"


def test_rbac_is_least_privilege_and_namespaced_unless_asked():
    objects = render()
    role = objects["Role/rl-seedrl-controller"]
    verbs: dict[tuple[str, str], set[str]] = {}
    for rule in role["rules"]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                verbs.setdefault((group, resource), set()).update(rule["verbs"])
    assert verbs[("seedrl.io", "experiments/status")] == {"get", "patch"}
    assert verbs[("seedrl.io", "experiments/finalizers")] == {"update"}  # owner references that block deletion
    leases = [rule for rule in role["rules"] if rule["resources"] == ["leases"]]
    assert [(rule["verbs"], rule.get("resourceNames")) for rule in leases] == [
        (["create"], None), (["get", "update"], ["seedrl-controller"])]  # only the leader Lease
    assert verbs[("", "pods")] == {"get", "list", "watch"}
    assert verbs[("", "persistentvolumeclaims")] == {"get", "list", "delete"}
    assert all("*" not in v and "escalate" not in v and "bind" not in v for v in verbs.values())
    assert verbs[("", "secrets")] == {"get", "create", "patch"}  # each experiment's secret; no list, watch or delete
    assert verbs[("networking.k8s.io", "networkpolicies")] == {"get", "list", "watch", "create", "patch", "delete"}
    assert not any(key.startswith("ClusterRole") for key in objects)
    wide = render(Path(__file__).parent / "values" / "servicemonitor.yaml")
    assert "ClusterRole/rl-seedrl-controller" in wide and "Role/rl-seedrl-controller" not in wide
    policy = render(Path(__file__).parent / "values" / "networkpolicy.yaml")["Role/rl-seedrl-controller"]
    assert any("networkpolicies" in rule["resources"] for rule in policy["rules"])


def test_network_policies_are_on_by_default():
    """The chart's defaults: the controller's API only from the listed sources, and the controller told to give
    every experiment a policy whose metrics port admits only the listed scrapers."""
    objects = render()
    policy = objects["NetworkPolicy/rl-seedrl-controller"]["spec"]
    assert policy["ingress"][0]["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]
    config = yaml.safe_load(objects["ConfigMap/rl-seedrl-controller"]["data"]["kubernetes.yaml"])
    options = KubernetesOptions.model_validate(config)
    assert options.network_policy and options.metrics_from == KubernetesOptions().metrics_from


def test_network_policy_admits_only_the_listed_sources():
    policy = render(Path(__file__).parent / "values" / "networkpolicy.yaml")["NetworkPolicy/rl-seedrl-controller"]["spec"]
    assert policy["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "controller"
    assert policy["ingress"] == [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
                                  "ports": [{"port": 8080, "protocol": "TCP"}]}]


def test_hpa_scales_the_experiment_through_its_scale_subresource():
    hpa = render(Path(__file__).parent / "values" / "hpa.yaml")["HorizontalPodAutoscaler/cartpole-actors"]["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "seedrl.io/v1alpha1", "kind": "Experiment", "name": "cartpole"}
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 32)


def test_monitoring_objects_label_series_and_wrap_the_files_unchanged():
    objects = render(Path(__file__).parent / "values" / "servicemonitor.yaml")
    monitor = objects["ServiceMonitor/rl-seedrl-controller"]
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["spec"]["endpoints"][0]["honorLabels"] is True
    pods = objects["PodMonitor/rl-seedrl-experiments"]
    endpoint = pods["spec"]["podMetricsEndpoints"][0]
    assert endpoint["honorLabels"] is True and endpoint["port"] == "metrics"
    targets = {(tuple(r["sourceLabels"]), r.get("regex"), r["targetLabel"], r.get("replacement")) for r in endpoint["relabelings"]}
    assert (("__meta_kubernetes_pod_label_seedrl_io_experiment",), None, "experiment", None) in targets
    assert (("__meta_kubernetes_pod_label_app_kubernetes_io_component",), "(actor|evaluator)", "role", "actor") in targets
    rules = objects["PrometheusRule/rl-seedrl"]["spec"]
    assert rules == yaml.safe_load((CHART / "rules" / "seedrl.rules.yaml").read_text())
    assert "{{" in json.dumps(rules)  # Prometheus's templates passed through untouched
    dashboard = objects["ConfigMap/rl-seedrl-dashboard"]
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(dashboard["data"]["seedrl.json"]) == json.loads((CHART / "dashboards" / "seedrl.json").read_text())


def test_the_crd_is_installed_from_crds():
    result = helm("show", "crds", str(CHART))
    assert yaml.safe_load(result)["metadata"]["name"] == "experiments.seedrl.io"


def test_notes_tell_how_to_reach_the_api():
    notes = helm("install", "rl", str(CHART), "--dry-run=client", "--namespace", "seedrl")
    assert "port-forward svc/rl-seedrl-controller" in notes and "rl-seedrl-api-token" in notes


def test_readme_lists_every_value():
    readme = (CHART / "README.md").read_text()
    documented = set(re.findall(r"^\| `([^`]+)` \|", readme, re.MULTILINE))

    def leaves(node: object, prefix: str = "") -> set[str]:
        if isinstance(node, dict) and node:
            return set().union(*(leaves(value, f"{prefix}{key}.") for key, value in node.items()))
        return {prefix.rstrip(".")}

    values = yaml.safe_load((CHART / "values.yaml").read_text())
    missing = {key for key in leaves(values) if not any(key == d or key.startswith(d + ".") for d in documented)}
    assert not missing, f"values missing from helm/seedrl/README.md: {sorted(missing)}"
