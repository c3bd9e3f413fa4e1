"""The `experiments.seedrl.io` CustomResourceDefinition, generated from ExperimentSpec and ExperimentStatus.

An Experiment's `spec` is an ExperimentSpec without `name` (the object's `metadata.name` is the
name), plus `suspend`: true stops the experiment gracefully, false runs it. Its `status` is the
REST API's ExperimentStatus plus what the scale subresource needs. Regenerate the chart's copy
after changing either model (a test fails while they differ):

    python -m seedrl.controller.runtimes.kubernetes.crd
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from seedrl.spec.experiment import NAME_MAX_LENGTH, NAME_PATTERN, ExperimentSpec
from seedrl.spec.family_defaults import RESOLVED_SECTIONS
from seedrl.controller.models import ExperimentStatus
from seedrl.controller.runtimes.kubernetes.schema import Schema, structural

GROUP = "seedrl.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "Experiment"
PLURAL = "experiments"
NAME = f"{PLURAL}.{GROUP}"
# Where the Helm chart keeps it (Helm installs everything in crds/ before the templates).
CHART_COPY = Path(__file__).resolve().parents[4] / "helm" / "seedrl" / "crds" / f"{NAME}.yaml"
HEADER = (
    "# Generated from ExperimentSpec and ExperimentStatus by\n"
    "#   python -m seedrl.controller.runtimes.kubernetes.crd\n"
    "# Do not edit: a test fails when this file and the models differ.\n"
)

SUSPEND: Schema = {
    "type": "boolean", "default": False,
    "description": "true stops the experiment gracefully (actors, then the learner, which writes a final "
                   "checkpoint); false runs it, resuming from its newest checkpoint.",
}
# Status fields only the custom resource has.
STATUS_EXTRA: dict[str, Schema] = {
    "actor_selector": {"type": "string", "description": "Label selector of the actor pods (scale subresource, HPA)."},
    "observed_generation": {"type": "integer", "description": "The metadata.generation this status reflects."},
    "restore_from": {"type": "string", "nullable": True,
                     "description": "Checkpoint (path in the learner pod) the starting learner restores."},
}
PRINTER_COLUMNS = [
    {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
    {"name": "Actors", "type": "integer", "jsonPath": ".status.ready_actors"},
    {"name": "Frames", "type": "integer", "jsonPath": ".status.frames"},
    {"name": "FPS", "type": "number", "jsonPath": ".status.fps"},
    {"name": "Return", "type": "number", "jsonPath": ".status.mean_return_100"},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]


def spec_schema() -> Schema:
    """The structural schema of an Experiment's `spec`."""
    schema = structural(ExperimentSpec.model_json_schema())
    schema["properties"].pop("name")
    schema["required"] = [field for field in schema.get("required", []) if field != "name"]
    if not schema["required"]:
        del schema["required"]
    for section in RESOLVED_SECTIONS:  # their defaults depend on env and agent: the controller fills them in
        schema["properties"][section] = without_defaults(schema["properties"][section])
    schema["properties"]["suspend"] = SUSPEND
    schema["description"] = "An ExperimentSpec (its name is metadata.name), plus `suspend`."
    return schema


def without_defaults(schema: Schema) -> Schema:
    """`schema` with no `default` at any depth."""
    if isinstance(schema, dict):
        return {key: without_defaults(value) for key, value in schema.items() if key != "default"}
    if isinstance(schema, list):
        return [without_defaults(item) for item in schema]
    return schema


def status_schema() -> Schema:
    """The structural schema of an Experiment's `status`."""
    schema = structural(ExperimentStatus.model_json_schema())
    schema["properties"].update(STATUS_EXTRA)
    return schema


def crd() -> dict[str, Any]:
    """The CustomResourceDefinition object."""
    name_rule = {
        "rule": f"self.metadata.name.matches('{NAME_PATTERN}') && size(self.metadata.name) <= {NAME_MAX_LENGTH}",
        "message": f"metadata.name must be an RFC 1035 label (a lowercase letter, then lowercase letters, digits "
                   f"and '-', not ending in '-') of at most {NAME_MAX_LENGTH} characters",
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": NAME, "labels": {"app.kubernetes.io/part-of": "seedrl"}},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"kind": KIND, "listKind": f"{KIND}List", "plural": PLURAL, "singular": "experiment",
                      "shortNames": ["exp"], "categories": ["seedrl"]},
            "versions": [{
                "name": VERSION, "served": True, "storage": True,
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "description": "A SEED RL experiment: one learner and its actors.",
                    "required": ["spec"],
                    "x-kubernetes-validations": [name_rule],
                    "properties": {
                        "apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"},
                        "spec": spec_schema(), "status": status_schema(),
                    },
                }},
                "subresources": {
                    "status": {},
                    "scale": {"specReplicasPath": ".spec.actors", "statusReplicasPath": ".status.ready_actors",
                              "labelSelectorPath": ".status.actor_selector"},
                },
                "additionalPrinterColumns": PRINTER_COLUMNS,
            }],
        },
    }


def render() -> str:
    """The CRD as the YAML file the chart ships."""
    return HEADER + yaml.safe_dump(crd(), sort_keys=False, width=120, allow_unicode=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the Experiment CRD generated from ExperimentSpec.")
    parser.add_argument("--out", type=Path, default=CHART_COPY, help=f"File to write (default: {CHART_COPY}).")
    parser.add_argument("--check", action="store_true", help="Only check that the file is up to date (exit 1 if not).")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.out.read_text() if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is out of date; run: python -m seedrl.controller.runtimes.kubernetes.crd", file=sys.stderr)
            return 1
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
