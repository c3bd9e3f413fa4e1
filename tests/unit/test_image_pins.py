"""Each learner image's pins name versions that exist on PyPI and agree with each other.

No Docker engine runs here, so the test does what each target of docker/learner.Dockerfile would install
as pip's own resolver sees it: `pip install --dry-run` of the target's extras (expanded from
pyproject.toml, without building the project) against pypi.org, ignoring this machine's pip settings
and local wheels, for the image's platform (python:3.11-slim-bookworm: glibc 2.36, x86_64). It needs network
access to PyPI and reads only metadata: from the index where PyPI serves it (PEP 658), otherwise from the
wheel's zip directory by HTTP range requests (`fast-deps`), so the CUDA wheels (several hundred MB each,
served without separate metadata) are never downloaded whole.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "docker" / "learner.Dockerfile"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
# target -> the TensorFlow distribution that provides its `tensorflow` module
# python:3.11-slim-bookworm has glibc 2.36: every manylinux tag up to it, old aliases included (pip takes
# them one by one)
TAGS = [f"manylinux_2_{glibc}_x86_64" for glibc in range(36, 4, -1)] + [
    "manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64", "linux_x86_64"]
PLATFORMS = [flag for tag in TAGS for flag in ("--platform", tag)]
TENSORFLOW = {"cpu": "tensorflow-cpu", "gpu": "tensorflow", "tpu": "tensorflow-tpu"}


def target_extras() -> dict[str, str]:
    """target -> the extras its build stage installs (`FROM source AS build-X` then `RUN docker/install.sh`)."""
    stages = re.findall(r"^FROM source AS build-(\w+)\nRUN docker/install.sh /opt/venv (\S+)$", DOCKERFILE.read_text(),
                        re.MULTILINE)
    return dict(stages)


def requirements(extras: str) -> list[str]:
    """The project's dependencies plus those of `extras` (comma-separated), seedrl[...] references expanded."""
    found, pending, seen = list(PYPROJECT["dependencies"]), extras.split(","), set()
    while pending:
        extra = pending.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for line in PYPROJECT["optional-dependencies"][extra]:
            requirement = Requirement(line)
            if requirement.name == "seedrl":
                pending.extend(requirement.extras)
            else:
                found.append(line)
    return found


def resolve(lines: list[str], report: Path) -> dict[str, str]:
    """name -> version of what pip's resolver would install for `lines` from pypi.org."""
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--isolated", "install", "--dry-run", "--ignore-installed", "--quiet",
         "--use-feature", "fast-deps", "--no-cache-dir", "--resume-retries", "5",
         "--index-url", "https://pypi.org/simple", "--only-binary", ":all:", "--python-version", "3.11",
         *PLATFORMS, "--target", str(report.parent / "unused"),
         "--report", str(report), *lines],
        capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, f"pip cannot resolve {lines}:\n{result.stderr[-3000:]}"
    return {item["metadata"]["name"].lower().replace("_", "-"): item["metadata"]["version"]
            for item in json.loads(report.read_text())["install"]}


def test_the_dockerfile_builds_one_learner_per_accelerator_from_real_extras():
    extras = target_extras()
    assert set(extras) == {"cpu", "gpu", "tpu"}
    assert extras == {"cpu": "learner", "gpu": "learner-gpu", "tpu": "learner-tpu"}
    for target, extra in extras.items():
        names = {Requirement(line).name for line in requirements(extra)}
        assert TENSORFLOW[target] in names, target
        assert not (set(TENSORFLOW.values()) - {TENSORFLOW[target]}) & names, f"{target} installs two TensorFlows"


@pytest.mark.slow
@pytest.mark.parametrize("target", ["cpu", "gpu", "tpu"])
def test_each_images_pins_resolve_on_pypi(target, tmp_path):
    installed = resolve(requirements(target_extras()[target]), tmp_path / "report.json")
    tensorflow = installed[TENSORFLOW[target]]
    protobuf = installed["protobuf"]
    project_protobuf = next(Requirement(line) for line in PYPROJECT["dependencies"] if line.startswith("protobuf"))
    assert protobuf in project_protobuf.specifier, f"protobuf {protobuf} breaks the project's {project_protobuf}"
    # TensorBoard moves with TensorFlow: the same minor version.
    assert installed["tensorboard"].split(".")[:2] == tensorflow.split(".")[:2], (tensorflow, installed["tensorboard"])
    if target == "tpu":
        assert "libtpu" in installed  # the TPU runtime comes from PyPI with tensorflow-tpu
