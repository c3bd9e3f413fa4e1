"""skaffold.yaml (no skaffold binary runs here): its images are the Dockerfiles', its chart and values
files exist and render with the real helm, with the image values skaffold sets."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.helm.test_chart import CHART, render

ROOT = Path(__file__).resolve().parents[2]


def test_skaffold_builds_the_three_images_and_deploys_the_chart():
    config = yaml.safe_load((ROOT / "skaffold.yaml").read_text())
    for build in (config["build"], *(p["build"] for p in config["profiles"] if "build" in p)):
        images = {a["image"]: a["docker"] for a in build["artifacts"]}
        assert set(images) == {"seedrl-controller", "seedrl-actor", "seedrl-learner"}
        assert all((ROOT / docker["dockerfile"]).is_file() for docker in images.values())
    gke = next(p for p in config["profiles"] if p["name"] == "gke")
    learner = next(a for a in gke["build"]["artifacts"] if a["image"] == "seedrl-learner")
    assert learner["docker"]["target"] == "gpu"
    assert config["build"]["platforms"] == gke["build"]["platforms"] == ["linux/amd64"]  # GKE nodes are amd64
    release = config["deploy"]["helm"]["releases"][0]
    assert (ROOT / release["chartPath"]) == CHART
    assert config["portForward"][0]["resourceName"] == "seedrl-controller"
    gke_release = gke["deploy"]["helm"]["releases"][0]
    assert gke_release["setValueTemplates"]["experiments.storage.bucket"] == "{{.BUCKET}}"
    for values in gke_release["valuesFiles"]:
        objects = render(ROOT / values, sets=("experiments.images.learner=r/l:1", "controller.image.tag=abc",
                                              "experiments.storage.bucket=my-bucket", "experiment.enabled=true"))
        learner_spec = objects["Experiment/pong"]["spec"]["resources"]["learner"]
        assert learner_spec["gpu"] == 1
        assert objects["Deployment/rl-seedrl-controller"]["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":abc")


def test_the_gke_profile_without_a_bucket_is_refused_before_anything_deploys():
    """skaffold renders an unset $BUCKET as an empty string: the chart's schema refuses it."""
    with pytest.raises(AssertionError, match="bucket"):
        render(ROOT / "helm/seedrl/values-gke.yaml", sets=("experiments.storage.bucket=",))
