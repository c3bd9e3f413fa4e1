"""How the Kubernetes runtime runs experiments in its cluster: images, storage, scheduling, security.

The Helm chart renders these from its `experiments` values into a file the controller reads
(`--kubernetes-config`); every field has a default, so a bare controller runs CPU experiments.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from seedrl.common import defaults
from seedrl.spec.experiment import MemoryQuantity

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"  # set on every namespace by the API server (1.21+)
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Scheduling(_Strict):
    """Where a component's pods may run (merged with what the spec's resources ask, e.g. a GPU type)."""

    node_selector: dict[str, str] = Field(default_factory=dict, description="nodeSelector of the pods.")
    tolerations: list[dict[str, Any]] = Field(default_factory=list, description="tolerations of the pods.")
    affinity: dict[str, Any] = Field(default_factory=dict, description="affinity of the pods.")
    priority_class_name: str | None = Field(None, description="priorityClassName of the pods.")


class Storage(_Strict):
    """Where learners write checkpoints, TensorBoard summaries and logs.

    `pvc`: a PersistentVolumeClaim per learner (volumeClaimTemplate); it outlives stops and
    resumes and is deleted with the experiment. `gcs`: a Cloud Storage bucket mounted by GKE's
    Cloud Storage FUSE CSI driver (pods need a service account with access through Workload
    Identity); every experiment writes under `experiments/<name>/`, so one experiment may resume
    from another's checkpoint.
    """

    kind: Literal["pvc", "gcs"] = Field("pvc", description="pvc or gcs.")
    size: MemoryQuantity = Field("10Gi", description="pvc: size of each learner's volume.")
    storage_class: str | None = Field(None, description="pvc: storageClassName (the cluster default if unset).")
    bucket: str | None = Field(
        None, pattern=r"^[a-z0-9][-a-z0-9_.]{1,220}[a-z0-9]$", description="gcs: bucket name (without gs://).",
    )
    mount_options: str = Field("implicit-dirs", description="gcs: gcsfuse mount options.")

    @model_validator(mode="after")
    def _bucket_for_gcs(self) -> "Storage":
        if self.kind == "gcs" and not self.bucket:
            raise ValueError("storage.bucket is required when storage.kind is gcs")
        return self


class LeaderElection(_Strict):
    """Which controller replica reconciles: the holder of a coordination.k8s.io Lease in the experiments'
    namespace (every replica serves the API). The defaults are client-go's."""

    enabled: bool = Field(True, description="Reconcile only while holding the Lease (needed for more than one replica).")
    lease_name: str = Field("seedrl-controller", pattern=DNS_LABEL, description="Name of the Lease.")
    lease_duration_s: int = Field(15, ge=1, le=300, description="How long a Lease holds without renewal; a "
                                    "replica takes over a dead leader's Lease after this long.")
    renew_deadline_s: float = Field(10.0, gt=0, le=300, description="The leader stops reconciling when it could "
                                    "not renew for this long.")
    retry_period_s: float = Field(2.0, gt=0, le=60, description="Seconds between attempts to acquire or renew.")

    @model_validator(mode="after")
    def _ordered(self) -> "LeaderElection":
        if not self.retry_period_s < self.renew_deadline_s < self.lease_duration_s:
            raise ValueError("leader_election needs retry_period_s < renew_deadline_s < lease_duration_s, so a "
                             "leader gives up before another replica may take over")
        return self


class KubernetesOptions(_Strict):
    """Cluster-wide settings of the experiments the controller creates."""

    namespace: str | None = Field(
        None, pattern=DNS_LABEL, description="Namespace of the experiments (default: the controller's own).",
    )
    learner_image: str = Field("seedrl-learner:latest", description="Image of learner pods.")
    actor_image: str = Field("seedrl-actor:latest", description="Image of actor pods.")
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"
    image_pull_secrets: list[str] = Field(default_factory=list, description="Secrets for pulling the images.")
    service_account: str | None = Field(
        None, pattern=DNS_LABEL, description="ServiceAccount of learner and actor pods (e.g. bound to a GCP one).",
    )
    storage: Storage = Field(default_factory=Storage)
    cluster_domain: str = Field("cluster.local", description="DNS domain of the cluster's Services.")
    learner_port: int = Field(defaults.LEARNER_PORT, ge=1, le=65535, description="Learner gRPC port.")
    metrics_port: int = Field(9090, ge=1, le=65535, description="/metrics port of learner and actor pods.")
    allow_custom_envs: bool = Field(False, description="Allow `module:callable` envs (sets SEEDRL_ALLOW_CUSTOM_ENVS=1).")
    network_policy: bool = Field(
        True, description="A NetworkPolicy per experiment: only its actors (and the controller) reach its learner's gRPC "
        "port. Enforced only where the cluster's network plugin enforces NetworkPolicies (GKE: Dataplane V2).",
    )
    metrics_from: list[dict[str, Any]] = Field(
        default_factory=lambda: [{"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: namespace}}}
                                 for namespace in ("monitoring", "gmp-system")],
        min_length=1,
        description="NetworkPolicyPeers allowed to scrape the learner's /metrics port (default: the `monitoring` "
                    "namespace of a Prometheus Operator stack and GKE Managed Prometheus' `gmp-system`).",
    )
    controller_selector: dict[str, str] = Field(
        default_factory=lambda: {"app.kubernetes.io/component": "controller"},
        description="Labels of the controller pods (allowed to reach learners' gRPC port for status).",
    )
    learner: Scheduling = Field(default_factory=Scheduling)
    actor: Scheduling = Field(default_factory=Scheduling)
    labels: dict[str, str] = Field(default_factory=dict, description="Extra labels on every object and pod.")
    learner_grace_s: int = Field(
        180, ge=10, le=3600, description="Seconds a stopping learner has to write its final checkpoint.",
    )
    poll_status_timeout_s: float = Field(2.0, gt=0, le=60, description="Timeout of the learner status call.")
    start_timeout_s: float = Field(
        1800, gt=0, le=86400, description="Seconds a (re)started learner has to serve (node scale-up, image pull, "
        "TensorFlow start) before the Progressing condition says StartDeadlineExceeded.",
    )
    stop_timeout_s: float = Field(
        300, gt=0, le=86400, description="Seconds past a pod's grace period after which a stop no longer waits for "
        "it (its node is likely lost): actors are given up, a learner is reported (StopDeadlineExceeded).",
    )
    leader_election: LeaderElection = Field(default_factory=LeaderElection)

    @classmethod
    def load(cls, path: Path | None) -> "KubernetesOptions":
        """From a YAML or JSON file (None: the defaults)."""
        return cls.model_validate(yaml.safe_load(path.read_text()) or {}) if path else cls()

    def resolved_namespace(self) -> str:
        """The namespace to use: the configured one, else the pod's own, else `default`."""
        if self.namespace:
            return self.namespace
        try:
            return SERVICE_ACCOUNT_NAMESPACE.read_text().strip()
        except OSError:
            return "default"
