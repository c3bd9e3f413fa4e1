"""The Experiment CRD: generated from ExperimentSpec, structural, and as strict as the model where it can be.

The real API server (v1.20, with the CRD as tests/kubernetes/v120.py adapts it) refuses a table of bad
Experiments, each with its own message, and prunes unknown fields. Offline, custom resources are also
checked against the CRD's schema with a JSON Schema validator (OpenAPI's `nullable` spelled as JSON
Schema), which covers what v1.20 lacks (CEL rules) and runs without a cluster.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from seedrl.admission import admit
from seedrl.spec.experiment import ExperimentSpec
from seedrl.spec.family_defaults import FAMILY_DEFAULTS, RESOLVED_SECTIONS, family_defaults
from seedrl.spec.policy_gradient import PRESETS
from seedrl.controller.runtimes.kubernetes import crd
from seedrl.controller.runtimes.kubernetes.resource import defaults_to_write_back, spec_of, to_resource
from tests.kubernetes.client import KubeError
from tests.kubernetes.client import path as rest_path

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {"$ref", "$defs", "anyOf", "oneOf", "allOf", "const", "examples", "prefixItems", "title"}


def json_schema(node: Any) -> Any:
    """An OpenAPI v3 (CRD) schema as JSON Schema: `nullable` and boolean exclusive bounds rewritten."""
    if isinstance(node, list):
        return [json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: json_schema(value) for key, value in node.items()
           if not key.startswith("x-kubernetes") and key not in ("nullable", "exclusiveMinimum", "exclusiveMaximum")}
    for bound, inclusive in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if node.get(bound) is True:
            out[bound] = out.pop(inclusive)
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if "properties" in node and not node.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False  # the API server prunes unknown fields; strict clients refuse them
    return out


def validator() -> jsonschema.Validator:
    schema = crd.crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return jsonschema.Draft202012Validator(json_schema(schema["properties"]["spec"]))


def walk(node: Any, path: str = ""):
    yield path, node
    for key in ("properties", "additionalProperties"):
        children = node.get(key)
        if isinstance(children, dict) and key == "properties":
            for name, child in children.items():
                yield from walk(child, f"{path}.{name}")
        elif isinstance(children, dict):
            yield from walk(children, f"{path}[*]")
    if "items" in node:
        yield from walk(node["items"], f"{path}[]")


def test_the_chart_ships_the_generated_crd():
    assert crd.CHART_COPY == ROOT / "helm/seedrl/crds/experiments.seedrl.io.yaml"
    assert crd.CHART_COPY.read_text() == crd.render(), (
        "the CRD differs from ExperimentSpec: run python -m seedrl.controller.runtimes.kubernetes.crd")


def test_the_check_flag_reports_drift(tmp_path):
    stale = tmp_path / "crd.yaml"
    stale.write_text(crd.render().replace("v1alpha1", "v1beta1"))
    assert crd.main(["--out", str(stale), "--check"]) == 1
    assert crd.main(["--out", str(stale)]) == 0
    assert crd.main(["--out", str(stale), "--check"]) == 0


def test_crd_is_a_valid_structural_crd():
    document = yaml.safe_load(crd.CHART_COPY.read_text())
    assert kubernetes_validate.validate(document, "1.30.0", strict=True)
    schema = document["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for part in ("spec", "status"):
        for path, node in walk(schema["properties"][part], part):
            assert not FORBIDDEN & node.keys(), f"{path} uses {FORBIDDEN & node.keys()}"
            assert "type" in node or node.get("x-kubernetes-int-or-string") or node.get(
                "x-kubernetes-preserve-unknown-fields"), f"{path} has no type"
            assert not ("properties" in node and "additionalProperties" in node), path
            if node.get("exclusiveMinimum") is not None:
                assert node["exclusiveMinimum"] is True and "minimum" in node, path


def test_every_spec_field_is_in_the_crd_with_its_default_but_where_env_and_agent_decide_it():
    spec = crd.spec_schema()["properties"]
    assert set(spec) == set(ExperimentSpec.model_fields) - {"name"} | {"suspend"}
    defaults = ExperimentSpec(name="x").model_dump(mode="json")
    for field, value in defaults.items():
        if field != "name" and "default" in spec[field]:
            assert spec[field]["default"] == value, field
    assert spec["actors"]["default"] == 2 and spec["total_frames"]["default"] == 10_000_000
    for section in RESOLVED_SECTIONS:
        assert not [path for path, node in walk(spec[section], section) if "default" in node], section


def test_a_partial_agent_section_applied_with_kubectl_resolves_as_through_the_rest_api(namespace):
    """The API server writes no model default into an agent's section, so the preset and the env family's
    defaults apply to an Experiment made with kubectl as to one made through the REST API."""
    collection = rest_path("Experiment", namespace.name)
    for name, given in (
        ("partial-ppo", {"env": "gym:CartPole-v1", "agent": "ppo", "policy_gradient": {"epochs": 2}}),
        ("partial-r2d2", {"env": "gym:CartPole-v1", "agent": "r2d2", "r2d2": {"batch_size": 16, "replay": {}}}),
    ):
        body = {"apiVersion": crd.API_VERSION, "kind": crd.KIND, "metadata": {"name": name, "namespace": namespace.name},
                "spec": given}
        stored = namespace.kube.create(collection, body)
        section = "policy_gradient" if given["agent"] == "ppo" else "r2d2"
        assert stored["spec"][section] == given[section], stored["spec"][section]
        spec, invalid = spec_of(stored)
        assert invalid is None and spec == admit(ExperimentSpec, {"name": name, **given})
    ppo, _ = spec_of(namespace.kube.get(f"{collection}/partial-ppo"))
    assert (ppo.policy_gradient.policy_loss, ppo.policy_gradient.epochs) == ("ppo", 2)
    assert ppo.policy_gradient.learning_rate == PRESETS["ppo"]["learning_rate"]
    r2d2, _ = spec_of(namespace.kube.get(f"{collection}/partial-r2d2"))
    family = family_defaults("gym", "r2d2")
    assert r2d2.r2d2.batch_size == 16 and r2d2.r2d2.learning_rate == family["r2d2"]["learning_rate"]
    assert r2d2.r2d2.replay.capacity == family["r2d2"]["replay"]["capacity"]


def test_the_defaults_a_kubectl_experiment_resolved_to_are_written_into_it_and_outlast_a_change_of_defaults(
        namespace, runtime, monkeypatch):
    """The first pass writes the values an Experiment made with kubectl left to its family's and agent's
    defaults into its spec, so a controller with other defaults (an upgrade) runs it as it was admitted."""
    collection = rest_path("Experiment", namespace.name)
    given = {"env": "gym:CartPole-v1", "agent": "r2d2", "r2d2": {"batch_size": 16}}
    namespace.kube.create(collection, {"apiVersion": crd.API_VERSION, "kind": crd.KIND,
                                       "metadata": {"name": "kubectl-r2d2", "namespace": namespace.name},
                                       "spec": {**given, "suspend": True}})
    runtime.reconcile_all()
    stored = namespace.kube.get(f"{collection}/kubectl-r2d2")
    family = family_defaults("gym", "r2d2")
    assert stored["spec"]["r2d2"]["batch_size"] == 16  # what the user set stays
    assert stored["spec"]["r2d2"]["learning_rate"] == family["r2d2"]["learning_rate"]
    assert stored["spec"]["r2d2"]["replay"]["capacity"] == family["r2d2"]["replay"]["capacity"]
    assert stored["spec"]["network"]["hidden_sizes"] == family["network"]["hidden_sizes"]
    admitted, invalid = spec_of(stored)
    assert invalid is None and admitted == admit(ExperimentSpec, {"name": "kubectl-r2d2", **given})

    monkeypatch.setitem(FAMILY_DEFAULTS["gym"], "r2d2", {"network": {"lstm_size": 7}, "r2d2": {"learning_rate": 0.5}})
    assert admit(ExperimentSpec, {"name": "kubectl-r2d2", **given}).r2d2.learning_rate == 0.5  # new defaults...
    runtime.reconcile_all()
    again = namespace.kube.get(f"{collection}/kubectl-r2d2")
    assert spec_of(again) == (admitted, None)  # ...do not reach the Experiment
    assert again["metadata"]["generation"] == stored["metadata"]["generation"]  # and nothing more is written


def test_examples_are_valid_experiment_resources():
    check = validator()
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        spec = admit(ExperimentSpec, yaml.safe_load(path.read_text()))
        resource = to_resource(spec, "default", suspend=False)
        check.validate(resource["spec"])
        assert spec_of(resource) == (spec, None)
        assert defaults_to_write_back(resource, spec) == {}  # the REST API writes the whole spec: nothing to add


# A bad value, and what the API server answers (its own words).
SERVER_REFUSALS = [
    ("actors", -1, "spec.actors: Invalid value: -1: spec.actors in body should be greater than or equal to 0"),
    ("actors", 5000, "spec.actors: Invalid value: 5000: spec.actors in body should be less than or equal to 1024"),
    ("env", "CartPole", 'spec.env: Invalid value: "CartPole": spec.env in body should match'),
    ("total_frames", 0, "spec.total_frames: Invalid value: 0: spec.total_frames in body should be greater than 0"),
    ("agent", "dqn", 'spec.agent: Unsupported value: "dqn": supported values: "vtrace", "policy_gradient"'),
    ("resume_from", "latest", 'spec.resume_from: Invalid value: "latest": spec.resume_from in body should match'),
    ("resources", {"learner": {"gpu": 17}}, "spec.resources.learner.gpu in body should be less than or equal to 16"),
    ("suspend", "yes", "spec.suspend in body must be of type boolean"),
]


def test_the_api_server_refuses_bad_experiments_with_its_reasons_and_prunes_unknown_fields(namespace):
    collection = rest_path("Experiment", namespace.name)
    good = to_resource(ExperimentSpec(name="x"), namespace.name, suspend=False)
    for field, value, words in SERVER_REFUSALS:
        bad = copy.deepcopy(good)
        bad["spec"][field] = value
        with pytest.raises(KubeError) as refused:
            namespace.kube.create(collection, bad)
        assert refused.value.status == 422 and words in refused.value.message, (field, refused.value.message)
    unknown = copy.deepcopy(good)
    unknown["spec"]["unknown_field"] = 1
    stored = namespace.kube.create(collection, unknown)
    assert "unknown_field" not in stored["spec"] and spec_of(stored) == (ExperimentSpec(name="x"), None)


@pytest.mark.parametrize("field, value", [
    ("actors", -1), ("actors", 5000), ("env", "CartPole"), ("total_frames", 0), ("agent", "dqn"),
    ("resume_from", "latest"), ("unknown_field", 1),
])
def test_the_crd_refuses_what_the_model_refuses(field, value):
    spec = to_resource(ExperimentSpec(name="x"), "default", suspend=False)["spec"]
    bad = copy.deepcopy(spec)
    bad[field] = value
    with pytest.raises(jsonschema.ValidationError):
        validator().validate(bad)
    with pytest.raises(ValueError):
        ExperimentSpec.model_validate({**{k: v for k, v in bad.items() if k != "suspend"}, "name": "x"})


def test_nested_constraints_and_nulls_carry_over():
    spec = to_resource(ExperimentSpec(name="x", resources={"learner": {"gpu": 2, "gpu_type": "nvidia-l4"}}),
                       "default", suspend=True)["spec"]
    validator().validate(spec)
    spec["resources"]["learner"]["gpu"] = 17
    with pytest.raises(jsonschema.ValidationError, match="17"):
        validator().validate(spec)
    spec["resources"]["learner"].update(gpu=0, gpu_type=None, tpu={"accelerator": "tpu-v5-lite-podslice", "topology": "2x4"})
    validator().validate(spec)


def test_scale_subresource_and_printer_columns_point_at_real_fields():
    version = crd.crd()["spec"]["versions"][0]
    status = set(crd.status_schema()["properties"])
    scale = version["subresources"]["scale"]
    assert scale["specReplicasPath"] == ".spec.actors"
    assert scale["statusReplicasPath"].removeprefix(".status.") in status
    assert scale["labelSelectorPath"].removeprefix(".status.") in status
    for column in version["additionalPrinterColumns"]:
        path = column["jsonPath"]
        assert path == ".metadata.creationTimestamp" or path.removeprefix(".status.") in status, path
    assert [c["name"] for c in version["additionalPrinterColumns"]] == ["Phase", "Actors", "Frames", "FPS", "Return", "Age"]
