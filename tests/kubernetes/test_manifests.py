"""The objects the Kubernetes runtime creates for an experiment, validated strictly against the
Kubernetes 1.30 and newest schemas (kubernetes-validate), and what matters in them asserted."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
import stat
import subprocess

import kubernetes_validate
import pytest

from seedrl.spec.actor import ActorConfig
from seedrl.spec.experiment import ExperimentSpec
from seedrl.controller.runtimes.kubernetes import manifests as mf
from seedrl.controller.runtimes.kubernetes.options import KubernetesOptions
from seedrl.spec.learner import LearnerConfig

OWNER = mf.Owner("pong", "0b5e-uid", "rl")
VERSIONS = ["1.30.0", kubernetes_validate.latest_version()]
SPECS = {
    "cpu": ExperimentSpec(name="pong", actors=3, eval_envs=2),
    "gpu": ExperimentSpec(name="pong", resources={"learner": {"gpu": 2, "gpu_type": "nvidia-l4"}}),
    "tpu": ExperimentSpec(name="pong", resources={"learner": {"tpu": {"accelerator": "tpu-v5-lite-podslice",
                                                                       "topology": "2x4", "chips": 8}}}),
}
OPTIONS = {
    "defaults": KubernetesOptions(),
    "gcs": KubernetesOptions(storage={"kind": "gcs", "bucket": "rl-checkpoints"}, service_account="seedrl-runs",
                             allow_custom_envs=True,
                             learner={"node_selector": {"pool": "learners"}, "tolerations": [
                                 {"key": "dedicated", "operator": "Equal", "value": "rl", "effect": "NoSchedule"}]}),
}


RUN = mf.Run(datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc), "/data/experiments/pong/checkpoints/ckpt-9")


def objects(spec: str, options: str, running: bool = True) -> dict[str, dict]:
    built = mf.experiment_objects(SPECS[spec], OWNER, OPTIONS[options], RUN if running else None)
    return {f"{obj['kind']}/{obj['metadata']['name']}": obj for obj in built}


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("spec", SPECS)
def test_every_object_is_valid_kubernetes(spec, options, version):
    for obj in objects(spec, options).values():
        kubernetes_validate.validate(obj, version, strict=True)


def test_strict_validation_catches_a_misspelt_field():
    stateful_set = objects("cpu", "defaults")["StatefulSet/pong-learner"]
    stateful_set["spec"]["template"]["spec"]["containers"][0]["resource"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(stateful_set, "1.30.0", strict=True)


def pod(obj: dict) -> dict:
    return obj["spec"]["template"]["spec"]


def test_gpu_learner_requests_gpus_on_the_named_accelerator():
    learner = pod(objects("gpu", "defaults")["StatefulSet/pong-learner"])
    resources = learner["containers"][0]["resources"]
    assert resources["limits"]["nvidia.com/gpu"] == resources["requests"]["nvidia.com/gpu"] == "2"
    assert learner["nodeSelector"] == {"cloud.google.com/gke-accelerator": "nvidia-l4"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in learner["tolerations"]
    assert "nvidia.com/gpu" not in json.dumps(objects("gpu", "defaults")["Deployment/pong-actors"])


def test_tpu_learner_requests_a_slice_with_its_topology():
    learner = pod(objects("tpu", "gcs")["StatefulSet/pong-learner"])
    assert learner["containers"][0]["resources"]["limits"]["google.com/tpu"] == "8"
    assert learner["nodeSelector"] == {"pool": "learners", "cloud.google.com/gke-tpu-accelerator": "tpu-v5-lite-podslice",
                                       "cloud.google.com/gke-tpu-topology": "2x4"}
    assert [t["key"] for t in learner["tolerations"]] == ["dedicated", "google.com/tpu"]


def test_cpu_learner_gets_no_accelerator():
    learner = pod(objects("cpu", "defaults")["StatefulSet/pong-learner"])
    assert "nodeSelector" not in learner and "tolerations" not in learner
    assert set(learner["containers"][0]["resources"]["limits"]) == {"memory"}


def test_actors_and_evaluator_reach_the_learner_by_its_stable_dns_name():
    built = objects("cpu", "defaults")
    service, learner = built["Service/pong-learner"], built["StatefulSet/pong-learner"]
    assert service["spec"]["clusterIP"] == "None" and learner["spec"]["serviceName"] == "pong-learner"
    assert service["spec"]["selector"].items() <= learner["spec"]["template"]["metadata"]["labels"].items()
    data = built["ConfigMap/pong-config"]["data"]
    actor, evaluator = ActorConfig.model_validate_json(data["actor.json"]), ActorConfig.model_validate_json(data["evaluator.json"])
    assert actor.learner == evaluator.learner == "pong-learner-0.pong-learner.rl.svc.cluster.local:8686"
    assert evaluator.evaluation and evaluator.envs_per_actor == 2 and not actor.evaluation
    assert built["Deployment/pong-actors"]["spec"]["replicas"] == 3
    assert built["Deployment/pong-evaluator"]["spec"]["replicas"] == 1


def test_learner_config_is_a_valid_learner_config():
    config = LearnerConfig.model_validate_json(objects("gpu", "defaults")["ConfigMap/pong-config"]["data"]["learner.json"])
    assert str(config.logdir) == "/data/experiments/pong" and config.port == 8686 and config.metrics_port == 9090
    assert str(config.restore_from) == "/data/experiments/pong/checkpoints/ckpt-9"


def test_stopped_objects_scale_to_zero_and_keep_the_volume():
    built = objects("cpu", "defaults", running=False)
    assert built["StatefulSet/pong-learner"]["spec"]["replicas"] == 0
    assert built["Deployment/pong-actors"]["spec"]["replicas"] == 0
    learner = built["StatefulSet/pong-learner"]["spec"]
    assert learner["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    assert learner["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "10Gi"


def test_gcs_storage_mounts_the_bucket_through_the_fuse_driver():
    learner = objects("cpu", "gcs")["StatefulSet/pong-learner"]
    volumes = {v["name"]: v for v in pod(learner)["volumes"]}
    assert volumes["data"]["csi"] == {"driver": "gcsfuse.csi.storage.gke.io",
                                      "volumeAttributes": {"bucketName": "rl-checkpoints", "mountOptions": "implicit-dirs"}}
    assert learner["spec"]["template"]["metadata"]["annotations"] == {"gke-gcsfuse/volumes": "true"}
    assert "volumeClaimTemplates" not in learner["spec"]
    assert pod(learner)["serviceAccountName"] == "seedrl-runs"


@pytest.mark.parametrize("name", ["StatefulSet/pong-learner", "Deployment/pong-actors", "Deployment/pong-evaluator"])
def test_pods_are_hardened_and_owned(name):
    obj = objects("cpu", "gcs")[name]
    spec = pod(obj)
    assert spec["securityContext"]["runAsNonRoot"] and spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert spec["automountServiceAccountToken"] is False
    for container in spec["containers"]:
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] and not security["allowPrivilegeEscalation"]
        assert security["capabilities"] == {"drop": ["ALL"]}
        assert {"name": "SEEDRL_ALLOW_CUSTOM_ENVS", "value": "1"} in container["env"]
    assert obj["metadata"]["ownerReferences"] == [OWNER.reference()]
    assert "SEEDRL_ALLOW_CUSTOM_ENVS" not in json.dumps(objects("cpu", "defaults")[name])


def test_network_policy_is_on_by_default_and_lets_only_own_actors_and_the_controller_reach_grpc_and_scrapers_metrics():
    policy = objects("cpu", "defaults")["NetworkPolicy/pong-learner"]["spec"]
    grpc_rule, metrics_rule = policy["ingress"]
    assert grpc_rule["ports"] == [{"port": 8686, "protocol": "TCP"}]
    actors, controller = grpc_rule["from"]
    assert actors["podSelector"]["matchLabels"] == {"seedrl.io/experiment": "pong"}
    assert actors["podSelector"]["matchExpressions"][0]["values"] == ["actor", "evaluator"]
    assert controller["podSelector"]["matchLabels"] == {"app.kubernetes.io/component": "controller"}
    assert metrics_rule["ports"] == [{"port": 9090, "protocol": "TCP"}]
    assert [peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] for peer in metrics_rule["from"]] == [
        "monitoring", "gmp-system"]  # scrapers only, never every pod
    assert policy["podSelector"]["matchLabels"] == {"seedrl.io/experiment": "pong", "app.kubernetes.io/component": "learner"}
    turned_off = mf.experiment_objects(SPECS["cpu"], OWNER, KubernetesOptions(network_policy=False), RUN)
    assert not any(obj["kind"] == "NetworkPolicy" for obj in turned_off)


def test_actor_pods_seed_their_envs_from_their_names(tmp_path):
    """Runs the actor container's command in a real shell, with `seedrl` replaced by a script printing its arguments."""
    fake = tmp_path / "seedrl"
    fake.write_text('#!/bin/sh\necho "$@"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    command = objects("cpu", "defaults")["Deployment/pong-actors"]["spec"]["template"]["spec"]["containers"][0]["command"]
    seeds = set()
    for pod_name in ("pong-actors-7d9f-abcde", "pong-actors-7d9f-fghij", "pong-actors-55c4-abcde"):
        out = subprocess.run(command, env={**os.environ, "POD_NAME": pod_name, "PATH": f"{tmp_path}:{os.environ['PATH']}"},
                             capture_output=True, text=True, check=True).stdout.split()
        assert out[:4] == ["actor", "--config", "/etc/seedrl/actor.json", "--actor-id"] and out[4] == pod_name
        seeds.add(int(out[out.index("--seed") + 1]))
    assert len(seeds) == 3 and all(0 <= seed < 2**31 for seed in seeds)


def test_learner_readiness_asks_its_grpc_health_service():
    """Ready only while the learner serves actors (grpc.health.v1, services/learner/readiness.py)."""
    (container,) = objects("cpu", "defaults")["StatefulSet/pong-learner"]["spec"]["template"]["spec"]["containers"]
    port = next(p["containerPort"] for p in container["ports"] if p["name"] == "grpc")
    assert container["readinessProbe"]["grpc"] == {"port": port}
    assert container["startupProbe"]["grpc"] == {"port": port}


def test_the_run_is_recorded_on_the_learner_and_read_back():
    learner = objects("cpu", "defaults")["StatefulSet/pong-learner"]
    assert learner["metadata"]["annotations"] == {"seedrl.io/run-started-at": "2030-01-02T03:04:05+00:00",
                                                  "seedrl.io/run-restore-from": "/data/experiments/pong/checkpoints/ckpt-9"}
    assert mf.Run.of(learner) == RUN
    assert mf.Run.of(objects("cpu", "defaults", running=False)["StatefulSet/pong-learner"]) is None
    for reference in ("ckpt-9", "other/ckpt-5"):
        assert mf.checkpoint_reference(mf.checkpoint_path(reference, "pong"), "pong") == reference


@pytest.mark.parametrize("version", VERSIONS)
def test_with_the_experiments_secret_its_pods_mount_it_and_their_configs_point_at_the_file(version):
    secret = mf.secret_value(None)
    built = mf.experiment_objects(SPECS["cpu"], OWNER, OPTIONS["defaults"], RUN, secret=secret)
    by_name = {f"{obj['kind']}/{obj['metadata']['name']}": obj for obj in built}
    for obj in built:
        kubernetes_validate.validate(obj, version, strict=True)
    stored = by_name["Secret/pong-secret"]
    assert stored["metadata"]["ownerReferences"] == [OWNER.reference()] and mf.secret_value(stored) == secret
    for name in ("StatefulSet/pong-learner", "Deployment/pong-actors", "Deployment/pong-evaluator"):
        spec = pod(by_name[name])
        assert {"name": "secret", "secret": {"secretName": "pong-secret", "defaultMode": 0o440}} in spec["volumes"]
        (container,) = spec["containers"]
        assert {"name": "secret", "mountPath": mf.SECRET_DIR, "readOnly": True} in container["volumeMounts"]
        assert all(secret not in json.dumps(env) for env in container["env"])  # a file, never a variable
    configs = {key: json.loads(text) for key, text in by_name["ConfigMap/pong-config"]["data"].items()}
    assert str(LearnerConfig.model_validate(configs["learner.json"]).auth.secret_file) == mf.SECRET_FILE
    for name in ("actor.json", "evaluator.json"):
        assert str(ActorConfig.model_validate(configs[name]).auth.secret_file) == mf.SECRET_FILE
    assert secret not in json.dumps(configs)
    # The pods say which secret they were started with (a new one restarts them all together), not what it is.
    versions = {by_name[name]["spec"]["template"]["metadata"]["annotations"][mf.SECRET_VERSION_ANNOTATION]
                for name in ("StatefulSet/pong-learner", "Deployment/pong-actors", "Deployment/pong-evaluator")}
    assert versions == {mf.secret_version(secret)} and mf.secret_version(mf.secret_value(None)) not in versions
    assert secret not in json.dumps([obj for obj in built if obj["kind"] != "Secret"])  # only the Secret holds it
    # Without a secret, nothing of it appears.
    assert not any(obj["kind"] == "Secret" for obj in mf.experiment_objects(
        SPECS["cpu"], OWNER, OPTIONS["defaults"], RUN))
