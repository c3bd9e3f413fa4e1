"""skaffold.yaml (no skaffold binary runs here): its images are the Dockerfiles', its chart and values
files exist and render with the real helm, with the image values skaffold sets."""

from __future__ import annotations

from pathlib import Path

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
    assert learner["docker"]["buildArgs"]["EXTRAS"] == "learner-gpu"
    release = config["deploy"]["helm"]["releases"][0]
    assert (ROOT / release["chartPath"]) == CHART
    assert config["portForward"][0]["resourceName"] == "seedrl-controller"
    for values in gke["deploy"]["helm"]["releases"][0]["valuesFiles"]:
        objects = render(ROOT / values, sets=("experiments.images.learner=r/l:1", "controller.image.tag=abc"))
        learner_spec = objects["Experiment/pong"]["spec"]["resources"]["learner"]
        assert learner_spec["gpu"] == 1
        assert objects["Deployment/rl-seedrl-controller"]["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":abc")
