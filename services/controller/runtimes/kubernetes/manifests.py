"""The Kubernetes objects of one experiment, as plain JSON-ready dicts.

For an Experiment `NAME` in namespace `NS`, all owned by the Experiment (deleting it deletes them):

- ConfigMap `NAME-config`: `learner.json`, `actor.json` (and `evaluator.json`), the process configs.
- Service `NAME-learner`: headless, so the learner pod is `NAME-learner-0.NAME-learner.NS.svc.<domain>`.
- StatefulSet `NAME-learner`: one learner pod (0 when stopped) on GPU/TPU nodes as the spec asks,
  with a PersistentVolumeClaim from a volumeClaimTemplate (kept across stops) or a GCS bucket.
  Its annotations record the current run (`Run`): when it started and what it restores.
- Deployment `NAME-actors`: `spec.actors` actor pods pointed at the learner's DNS name, each
  seeding its envs from its pod name; Deployment `NAME-evaluator` when `eval_envs` > 0.
- NetworkPolicy `NAME-learner` (on unless the options turn it off): only this experiment's actors
  and the controller reach the learner's gRPC port.
- Secret `NAME-secret`: the experiment's secret, made by the runtime at the first start and kept
  (the reconciler always passes it). The learner requires it and the actors present it, read from a
  file mounted at SECRET_FILE (never an env variable); the controller presents it to GetStatus.
  The pod templates carry a hash of it (SECRET_VERSION_ANNOTATION), so a new one restarts them together.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from seedrl.common.credentials import new_secret
from seedrl.spec.auth import ClientAuth
from seedrl.spec.devices import requested_accelerator
from seedrl.spec.env import ALLOW_CUSTOM_ENVS
from seedrl.spec.experiment import ExperimentSpec
from seedrl.controller.runtimes.kubernetes.crd import API_VERSION, KIND
from seedrl.controller.runtimes.kubernetes.options import KubernetesOptions, Scheduling
from seedrl.controller.runtimes.process_configs import EVALUATOR, actor_config, learner_config

Manifest = dict[str, Any]

EXPERIMENT_LABEL = "seedrl.io/experiment"
COMPONENT_LABEL = "app.kubernetes.io/component"
MANAGED_BY = {"app.kubernetes.io/managed-by": "seedrl-controller", "app.kubernetes.io/part-of": "seedrl"}
CONFIG_DIR = "/etc/seedrl"
DATA_DIR = "/data"
DATA_VOLUME = "data"
SECRET_VOLUME = "secret"
SECRET_DIR = "/var/run/seedrl"
SECRET_FILE = f"{SECRET_DIR}/secret"
# On the pod templates: which secret the pods were started with (a hash, not the value). A Secret made anew
# (it was deleted while the experiment ran) changes it, so learner and actors restart together on the new one.
SECRET_VERSION_ANNOTATION = "seedrl.io/secret-version"
RUN_AS = 10001
GPU_RESOURCE = "nvidia.com/gpu"
TPU_RESOURCE = "google.com/tpu"
GKE_ACCELERATOR = "cloud.google.com/gke-accelerator"
GKE_TPU_ACCELERATOR = "cloud.google.com/gke-tpu-accelerator"
GKE_TPU_TOPOLOGY = "cloud.google.com/gke-tpu-topology"
INSTANCE_TYPE = "node.kubernetes.io/instance-type"
GCSFUSE_DRIVER = "gcsfuse.csi.storage.gke.io"
# An actor pod's envs are seeded from its name (a Deployment's pods have no index): the spec's seed
# plus a 32-bit hash of the pod name, so pods never share env seeds (collisions are ~1e-9 likely).
ACTOR_SCRIPT = (
    'exec seedrl actor --config {config} --actor-id "$POD_NAME" '
    '--seed "$(( ({seed} + $(printf %s "$POD_NAME" | cksum | cut -d " " -f 1)) % 2147483648 ))"'
)


@dataclass(frozen=True)
class Owner:
    """The Experiment object the manifests belong to."""

    name: str
    uid: str
    namespace: str

    def reference(self) -> dict[str, Any]:
        return {"apiVersion": API_VERSION, "kind": KIND, "name": self.name, "uid": self.uid,
                "controller": True, "blockOwnerDeletion": True}


@dataclass(frozen=True)
class Run:
    """One run of an experiment, from a start or resume to its stop, recorded in the annotations of its
    learner StatefulSet: what was applied is the record, so a status write that failed, or a controller
    that restarted, loses nothing."""

    started_at: datetime
    restore_from: str | None = None  # the checkpoint (in-pod path) the learner restores; None: its newest

    STARTED_AT = "seedrl.io/run-started-at"
    RESTORE_FROM = "seedrl.io/run-restore-from"

    def annotations(self) -> dict[str, str]:
        recorded = {self.STARTED_AT: self.started_at.isoformat()}
        if self.restore_from:
            recorded[self.RESTORE_FROM] = self.restore_from
        return recorded

    @classmethod
    def of(cls, stateful_set: Manifest | None) -> "Run | None":
        """The run a learner StatefulSet records, if it runs (one replica) and records one."""
        if stateful_set is None or not stateful_set["spec"].get("replicas"):
            return None
        annotations = stateful_set["metadata"].get("annotations") or {}
        if cls.STARTED_AT not in annotations:
            return None
        return cls(datetime.fromisoformat(annotations[cls.STARTED_AT]), annotations.get(cls.RESTORE_FROM))


def learner_name(experiment: str) -> str:
    """The learner's StatefulSet and headless Service."""
    return f"{experiment}-learner"


def actors_name(experiment: str) -> str:
    return f"{experiment}-actors"


def evaluator_name(experiment: str) -> str:
    return f"{experiment}-evaluator"


def config_name(experiment: str) -> str:
    return f"{experiment}-config"


def claim_name(experiment: str) -> str:
    """The learner's PersistentVolumeClaim (`<template>-<statefulset>-<ordinal>`)."""
    return f"{DATA_VOLUME}-{learner_name(experiment)}-0"


def learner_host(experiment: str, namespace: str, options: KubernetesOptions) -> str:
    """The stable DNS name of the learner pod."""
    name = learner_name(experiment)
    return f"{name}-0.{name}.{namespace}.svc.{options.cluster_domain}"


def logdir(experiment: str) -> str:
    """Where the learner of `experiment` writes, inside its pod."""
    return f"{DATA_DIR}/experiments/{experiment}"


def checkpoint_path(reference: str, experiment: str) -> str:
    """The in-pod path of `ckpt-N` (of `experiment`) or `other/ckpt-N`."""
    other, _, checkpoint = reference.rpartition("/")
    return f"{logdir(other or experiment)}/checkpoints/{checkpoint}"


def checkpoint_reference(path: str, experiment: str) -> str:
    """The reference (`ckpt-N`, or `other/ckpt-N` of another experiment) of a `checkpoint_path`."""
    owner, _, checkpoint = path.removeprefix(f"{DATA_DIR}/experiments/").partition("/checkpoints/")
    return checkpoint if owner == experiment else f"{owner}/{checkpoint}"


def labels(experiment: str, component: str, options: KubernetesOptions) -> dict[str, str]:
    return {**options.labels, **MANAGED_BY, EXPERIMENT_LABEL: experiment, COMPONENT_LABEL: component}


def selector(experiment: str, component: str) -> dict[str, str]:
    return {EXPERIMENT_LABEL: experiment, COMPONENT_LABEL: component}


def selector_string(experiment: str, component: str) -> str:
    """The label selector as `kubectl -l` and the scale subresource write it."""
    return ",".join(f"{key}={value}" for key, value in selector(experiment, component).items())


def _metadata(name: str, owner: Owner, component: str, options: KubernetesOptions) -> dict[str, Any]:
    return {"name": name, "namespace": owner.namespace, "labels": labels(owner.name, component, options),
            "ownerReferences": [owner.reference()]}


def secret_name(experiment: str) -> str:
    return f"{experiment}-secret"


def learner_secret(spec: ExperimentSpec, owner: Owner, options: KubernetesOptions, secret: str) -> Manifest:
    """The experiment's secret, under the key `secret`; the runtime makes it once (`secret_value`) and keeps it."""
    return {
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": _metadata(secret_name(spec.name), owner, "secret", options),
        "data": {"secret": base64.b64encode(secret.encode()).decode()},
    }


def secret_value(existing: Manifest | None) -> str:
    """The secret an experiment's Secret (as read from the cluster) holds; a fresh one if it has none yet."""
    encoded = (existing or {}).get("data", {}).get("secret")
    return base64.b64decode(encoded).decode() if encoded else new_secret()


def secret_version(secret: str) -> str:
    """A short SHA-256 of the secret: tells secrets apart without revealing one."""
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


def _secret_volume(experiment: str) -> dict[str, Any]:
    return {"name": SECRET_VOLUME, "secret": {"secretName": secret_name(experiment), "defaultMode": 0o440}}


def _secret_mount() -> dict[str, Any]:
    return {"name": SECRET_VOLUME, "mountPath": SECRET_DIR, "readOnly": True}


def config_map(spec: ExperimentSpec, owner: Owner, options: KubernetesOptions, restore_from: str | None,
               authenticated: bool = False) -> Manifest:
    """The process configs; `restore_from` is a checkpoint path the learner restores when it starts. With
    `authenticated`, the learner requires and the actors present the secret mounted at SECRET_FILE."""
    learner = f"{learner_host(spec.name, owner.namespace, options)}:{options.learner_port}"
    secret = {"auth": ClientAuth(secret_file=SECRET_FILE)} if authenticated else {}
    learner_json = learner_config(spec, logdir(spec.name), options.learner_port, options.metrics_port, restore_from,
                                  secret_file=SECRET_FILE if authenticated else None)
    resources = spec.resources.learner
    learner_json["devices"]["accelerator"] = requested_accelerator(spec.devices.accelerator, resources.gpu,
                                                                   resources.tpu is not None)
    data = {
        "learner.json": learner_json,
        "actor.json": actor_config(spec, "actor-0", learner, metrics_port=options.metrics_port, **secret).model_dump(mode="json"),
    }
    if spec.eval_envs:
        data["evaluator.json"] = actor_config(
            spec, EVALUATOR, learner, metrics_port=options.metrics_port, **secret
        ).model_dump(mode="json")
    return {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": _metadata(config_name(spec.name), owner, "config", options),
        "data": {key: json.dumps(value, indent=2, sort_keys=True) for key, value in data.items()},
    }


def learner_service(spec: ExperimentSpec, owner: Owner, options: KubernetesOptions) -> Manifest:
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": _metadata(learner_name(spec.name), owner, "learner", options),
        "spec": {
            "clusterIP": "None",
            "selector": selector(spec.name, "learner"),
            "ports": [
                {"name": "grpc", "port": options.learner_port, "targetPort": "grpc", "protocol": "TCP"},
                {"name": "metrics", "port": options.metrics_port, "targetPort": "metrics", "protocol": "TCP"},
            ],
        },
    }


def _container_security() -> dict[str, Any]:
    return {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]}}


def _pod_security() -> dict[str, Any]:
    return {"runAsNonRoot": True, "runAsUser": RUN_AS, "runAsGroup": RUN_AS, "fsGroup": RUN_AS,
            "fsGroupChangePolicy": "OnRootMismatch", "seccompProfile": {"type": "RuntimeDefault"}}


def _env(options: KubernetesOptions) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "TF_CPP_MIN_LOG_LEVEL", "value": "2"},
    ]
    if options.allow_custom_envs:
        env.append({"name": ALLOW_CUSTOM_ENVS, "value": "1"})
    return env


def _scheduling(scheduling: Scheduling, node_selector: dict[str, str], tolerations: list[dict[str, Any]]) -> dict[str, Any]:
    pod: dict[str, Any] = {}
    if scheduling.node_selector or node_selector:
        pod["nodeSelector"] = {**scheduling.node_selector, **node_selector}
    if scheduling.tolerations or tolerations:
        pod["tolerations"] = [*scheduling.tolerations, *tolerations]
    if scheduling.affinity:
        pod["affinity"] = scheduling.affinity
    if scheduling.priority_class_name:
        pod["priorityClassName"] = scheduling.priority_class_name
    return pod


def _pod_spec(options: KubernetesOptions, scheduling: dict[str, Any], containers: list[dict[str, Any]],
              volumes: list[dict[str, Any]], grace_s: int) -> dict[str, Any]:
    pod: dict[str, Any] = {
        "securityContext": _pod_security(),
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": grace_s,
        "containers": containers,
        "volumes": volumes,
        **scheduling,
    }
    if options.service_account:
        pod["serviceAccountName"] = options.service_account
    if options.image_pull_secrets:
        pod["imagePullSecrets"] = [{"name": name} for name in options.image_pull_secrets]
    return pod


def _config_volume(experiment: str) -> dict[str, Any]:
    return {"name": "config", "configMap": {"name": config_name(experiment)}}


def _tmp_volume() -> dict[str, Any]:
    return {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}


def _gcs_volume(options: KubernetesOptions) -> dict[str, Any]:
    return {"name": DATA_VOLUME, "csi": {"driver": GCSFUSE_DRIVER, "volumeAttributes": {
        "bucketName": options.storage.bucket, "mountOptions": options.storage.mount_options}}}


def learner_accelerators(spec: ExperimentSpec) -> tuple[dict[str, Any], dict[str, str], list[dict[str, Any]]]:
    """(extended resources, node selector, tolerations) for the learner's GPUs or TPU slice, on its
    machine type when the spec names one."""
    learner = spec.resources.learner
    pool = {INSTANCE_TYPE: learner.machine_type} if learner.machine_type else {}
    if learner.tpu is not None:
        return ({TPU_RESOURCE: str(learner.tpu.chips)},
                {GKE_TPU_ACCELERATOR: learner.tpu.accelerator, GKE_TPU_TOPOLOGY: learner.tpu.topology, **pool},
                [{"key": TPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}])
    if learner.gpu:
        node_selector = {GKE_ACCELERATOR: learner.gpu_type} if learner.gpu_type else {}
        return ({GPU_RESOURCE: str(learner.gpu)}, {**node_selector, **pool},
                [{"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}])
    return {}, pool, []


def learner_stateful_set(spec: ExperimentSpec, owner: Owner, options: KubernetesOptions, replicas: int,
                         run: Run | None = None, authenticated: bool = False) -> Manifest:
    """The learner: `replicas` is 1 to run, 0 to stop (its volume stays); `run` is recorded on it;
    `authenticated` mounts the experiment's secret."""
    resources = spec.resources.learner
    accelerators, node_selector, tolerations = learner_accelerators(spec)
    container = {
        "name": "learner",
        "image": options.learner_image,
        "imagePullPolicy": options.image_pull_policy,
        "args": ["learner", "--config", f"{CONFIG_DIR}/learner.json"],
        "env": _env(options),
        "ports": [{"name": "grpc", "containerPort": options.learner_port, "protocol": "TCP"},
                  {"name": "metrics", "containerPort": options.metrics_port, "protocol": "TCP"}],
        "resources": {
            "requests": {"cpu": resources.cpu, "memory": resources.memory, **accelerators},
            "limits": {"memory": resources.memory, **accelerators},
        },
        # The learner's gRPC health service (grpc.health.v1) is SERVING only while it serves actors.
        # TensorFlow takes a while to start: the startup probe allows 10 minutes, then liveness takes over.
        "startupProbe": {"grpc": {"port": options.learner_port}, "periodSeconds": 5, "failureThreshold": 120},
        "readinessProbe": {"grpc": {"port": options.learner_port}, "periodSeconds": 5},
        "livenessProbe": {"tcpSocket": {"port": "grpc"}, "periodSeconds": 20, "failureThreshold": 6},
        "securityContext": _container_security(),
        "volumeMounts": [{"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
                         {"name": DATA_VOLUME, "mountPath": DATA_DIR},
                         {"name": "tmp", "mountPath": "/tmp"}],
    }
    volumes = [_config_volume(spec.name), _tmp_volume()]
    if authenticated:
        volumes.append(_secret_volume(spec.name))
        container["volumeMounts"].append(_secret_mount())
    template_metadata: dict[str, Any] = {"labels": labels(spec.name, "learner", options)}
    stateful_set: dict[str, Any] = {
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": _metadata(learner_name(spec.name), owner, "learner", options),
        "spec": {
            "replicas": replicas,
            "serviceName": learner_name(spec.name),
            "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": selector(spec.name, "learner")},
            # Checkpoints outlive stops and the experiment itself (deleted on request only).
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
            "template": {"metadata": template_metadata, "spec": {}},
        },
    }
    if run is not None:
        stateful_set["metadata"]["annotations"] = run.annotations()
    if options.storage.kind == "gcs":
        volumes.append(_gcs_volume(options))
        template_metadata["annotations"] = {"gke-gcsfuse/volumes": "true"}
    else:
        claim_spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"],
                                      "resources": {"requests": {"storage": options.storage.size}}}
        if options.storage.storage_class:
            claim_spec["storageClassName"] = options.storage.storage_class
        stateful_set["spec"]["volumeClaimTemplates"] = [
            {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
             "metadata": {"name": DATA_VOLUME, "labels": labels(spec.name, "learner", options)}, "spec": claim_spec},
        ]
    stateful_set["spec"]["template"]["spec"] = _pod_spec(
        options, _scheduling(options.learner, node_selector, tolerations), [container], volumes, options.learner_grace_s,
    )
    return stateful_set


def _actor_deployment(spec: ExperimentSpec, owner: Owner, options: KubernetesOptions, name: str, component: str,
                      replicas: int, command: list[str], envs: int, authenticated: bool) -> Manifest:
    resources = spec.resources.actor
    container = {
        "name": component,
        "image": options.actor_image,
        "imagePullPolicy": options.image_pull_policy,
        "command": command,
        "env": _env(options),
        "ports": [{"name": "metrics", "containerPort": options.metrics_port, "protocol": "TCP"}],
        "resources": {"requests": {"cpu": resources.cpu, "memory": resources.memory},
                      "limits": {"memory": resources.memory}},
        "securityContext": _container_security(),
        "volumeMounts": [{"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
                         {"name": "tmp", "mountPath": "/tmp"}, *([_secret_mount()] if authenticated else [])],
    }
    volumes = [_config_volume(spec.name), _tmp_volume(), *([_secret_volume(spec.name)] if authenticated else [])]
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": _metadata(name, owner, component, options),
        "spec": {
            "replicas": replicas,
            "revisionHistoryLimit": 2,
            "selector": {"matchLabels": selector(spec.name, component)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": labels(spec.name, component, options),
                             "annotations": {"seedrl.io/envs": str(envs)}},
                "spec": _pod_spec(options, _scheduling(options.actor, {}, []), [container], volumes, grace_s=30),
            },
        },
    }


def actor_deployment(spec: ExperimentSpec, owner: Owner, options: KubernetesOptions, replicas: int,
                     authenticated: bool = False) -> Manifest:
    """The actors: `replicas` pods stepping `envs_per_actor` envs each; `authenticated` mounts the secret."""
    script = ACTOR_SCRIPT.format(config=f"{CONFIG_DIR}/actor.json", seed=spec.seed * 1_000_003)
    return _actor_deployment(spec, owner, options, actors_name(spec.name), "actor", replicas,
                             ["/bin/sh", "-c", script], spec.envs_per_actor, authenticated)


def evaluator_deployment(spec: ExperimentSpec, owner: Owner, options: KubernetesOptions, replicas: int,
                         authenticated: bool = False) -> Manifest:
    """The evaluation envs' actor (greedy, never trained on): one pod at most."""
    command = ["seedrl", "actor", "--config", f"{CONFIG_DIR}/evaluator.json"]
    return _actor_deployment(spec, owner, options, evaluator_name(spec.name), "evaluator", replicas, command,
                             spec.eval_envs, authenticated)


def learner_network_policy(spec: ExperimentSpec, owner: Owner, options: KubernetesOptions) -> Manifest:
    """Only this experiment's actors (and evaluator) and the controller reach the learner's gRPC port; only
    the scrapers of `options.metrics_from` reach its /metrics port."""
    own_actors = {"matchLabels": {EXPERIMENT_LABEL: spec.name},
                  "matchExpressions": [{"key": COMPONENT_LABEL, "operator": "In", "values": ["actor", "evaluator"]}]}
    return {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": _metadata(learner_name(spec.name), owner, "learner", options),
        "spec": {
            "podSelector": {"matchLabels": selector(spec.name, "learner")},
            "policyTypes": ["Ingress"],
            "ingress": [
                {"from": [{"podSelector": own_actors}, {"podSelector": {"matchLabels": options.controller_selector}}],
                 "ports": [{"port": options.learner_port, "protocol": "TCP"}]},
                {"from": options.metrics_from, "ports": [{"port": options.metrics_port, "protocol": "TCP"}]},
            ],
        },
    }


def experiment_objects(spec: ExperimentSpec, owner: Owner, options: KubernetesOptions, run: Run | None,
                       secret: str | None = None) -> list[Manifest]:
    """Every object of the experiment, running `run` (None: scaled to nothing); with `secret` (the
    experiment's, `secret_value`), its Secret too, mounted into the learner and actor pods, whose configs then
    require it, and whose templates name its version (SECRET_VERSION_ANNOTATION)."""
    running = run is not None
    authenticated = secret is not None
    objects = [
        *([learner_secret(spec, owner, options, secret)] if secret is not None else []),
        config_map(spec, owner, options, run.restore_from if run else None, authenticated),
        learner_service(spec, owner, options),
        learner_stateful_set(spec, owner, options, 1 if running else 0, run, authenticated),
        actor_deployment(spec, owner, options, spec.actors if running else 0, authenticated),
    ]
    if spec.eval_envs:
        objects.append(evaluator_deployment(spec, owner, options, 1 if running else 0, authenticated))
    if secret is not None:
        for workload in objects:
            if workload["kind"] in ("StatefulSet", "Deployment"):
                template = workload["spec"]["template"]["metadata"]
                template["annotations"] = {**template.get("annotations", {}), SECRET_VERSION_ANNOTATION: secret_version(secret)}
    if options.network_policy:
        objects.append(learner_network_policy(spec, owner, options))
    return objects
