"""Every adaptation the tests make so that the product's objects (written for Kubernetes >= 1.30, the
chart's kubeVersion) run on the v1.20.2 control plane the tests start. This module is the only place
that changes an object for v1.20; the product itself is not changed for it.

| what | >= 1.30 | v1.20.2 | adaptation here |
|---|---|---|---|
| learner StatefulSet: startup and readiness probes | `grpc` probes (1.24+) | server-side apply answers 500 "field not declared in schema" | `tcpSocket` probes on the same port |
| learner StatefulSet: `persistentVolumeClaimRetentionPolicy` | 1.23+ (Retain: the default) | the same 500 | dropped: v1.20 always retains the claims |
| CRD: `x-kubernetes-validations` (the name rule, CEL) | 1.25+ | kubectl refuses the field; the server drops it | dropped; the controller's model still refuses bad names |
| CRD: nullable enums (`env_options.backend`, `rewards`) list `null` | accepted | the CRD is refused ("per-version schemas may not all be set to identical values"); without `null` every null value is refused | the `enum` of those fields is dropped; the controller's model still checks them |
| chart: HorizontalPodAutoscaler | `autoscaling/v2` (1.23+) | `autoscaling/v2beta2` (same fields) | apiVersion |
| chart: PodDisruptionBudget | `policy/v1` (1.21+) | `policy/v1beta1` (same fields) | apiVersion |
| chart: `kubeVersion: >=1.30.0-0` | | helm refuses to install | the tests install a copy whose Chart.yaml says `>=1.20.0-0` |

Helm applies `adapt` to what the chart renders through a post-renderer plugin (`post_renderer`); the
runtime under test applies its manifests through `AdaptedApi`. `python -m tests.kubernetes.v120`
adapts a YAML stream from stdin (what the plugin runs); `python -m tests.kubernetes.v120 controller ARGS`
runs `seedrl controller ARGS` whose applies are adapted the same way.
"""

from __future__ import annotations

import copy
import shutil
import sys
from pathlib import Path
from typing import Any

import yaml

from seedrl.controller.runtimes.kubernetes import crd as product_crd
from seedrl.controller.runtimes.kubernetes.api import ClusterApi

Object = dict[str, Any]
ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "seedrl"
API_VERSIONS = {("HorizontalPodAutoscaler", "autoscaling/v2"): "autoscaling/v2beta2",
                ("PodDisruptionBudget", "policy/v1"): "policy/v1beta1"}
PLUGIN = "seedrl-v120"


def adapt(obj: Object) -> Object:
    """`obj` as the v1.20 server takes it (a copy; unchanged kinds come back equal)."""
    obj = copy.deepcopy(obj)
    obj["apiVersion"] = API_VERSIONS.get((obj.get("kind"), obj.get("apiVersion")), obj.get("apiVersion"))
    if obj.get("kind") in ("StatefulSet", "Deployment"):
        spec = obj["spec"]
        spec.pop("persistentVolumeClaimRetentionPolicy", None)
        for container in spec["template"]["spec"]["containers"]:
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                if "grpc" in container.get(probe, {}):
                    container[probe]["tcpSocket"] = {"port": container[probe].pop("grpc")["port"]}
    return obj


def crd() -> Object:
    """The chart's Experiment CRD as v1.20 takes it."""
    definition = copy.deepcopy(product_crd.crd())
    schema = definition["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    schema.pop("x-kubernetes-validations")
    _drop_null_enums(schema)
    return definition


def _drop_null_enums(node: Any) -> None:
    if isinstance(node, dict):
        if None in node.get("enum", []):
            del node["enum"]
        for child in node.values():
            _drop_null_enums(child)
    elif isinstance(node, list):
        for child in node:
            _drop_null_enums(child)


def chart(directory: Path) -> Path:
    """A copy of the chart whose kubeVersion admits v1.20."""
    copied = directory / "seedrl"
    shutil.copytree(CHART, copied)
    metadata = copied / "Chart.yaml"
    metadata.write_text(metadata.read_text().replace('kubeVersion: ">=1.30.0-0"', 'kubeVersion: ">=1.20.0-0"'))
    return copied


def post_renderer(plugins: Path) -> str:
    """Install the helm post-renderer plugin that runs `adapt` into `plugins` (HELM_PLUGINS); its name."""
    directory = plugins / PLUGIN
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "plugin.yaml").write_text(
        f"apiVersion: v1\ntype: postrenderer/v1\nname: {PLUGIN}\nversion: 0.1.0\nruntime: subprocess\n"
        "runtimeConfig:\n  platformCommand:\n    - command: ${HELM_PLUGIN_DIR}/adapt.sh\n")
    script = directory / "adapt.sh"
    script.write_text(f"#!/bin/sh\ncd {ROOT} && exec {sys.executable} -m tests.kubernetes.v120\n")
    script.chmod(0o755)
    return PLUGIN


class AdaptedApi:
    """A ClusterApi whose applies pass through `adapt` (what the runtime under test talks to)."""

    def __init__(self, api: ClusterApi):
        self.api = api
        self.namespace = api.namespace

    def apply(self, manifest: Object) -> Object:
        return self.api.apply(adapt(manifest))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.api, name)


def main() -> int:
    if sys.argv[1:2] == ["controller"]:
        from seedrl import cli
        from seedrl.controller.runtimes.kubernetes.api import KubeApi

        apply = KubeApi.apply
        KubeApi.apply = lambda self, manifest: apply(self, adapt(manifest))  # type: ignore[method-assign]
        return cli.main(sys.argv[1:])
    documents = [adapt(document) for document in yaml.safe_load_all(sys.stdin) if document]
    yaml.safe_dump_all(documents, sys.stdout, sort_keys=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
