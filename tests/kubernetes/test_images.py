"""The images' install step (docker/install.sh), run as the Dockerfiles run it, into fresh virtualenvs.

No Docker engine runs here, so the one command each Dockerfile runs is run by this test instead:
the (CPU) actor's extras are installed from this checkout into a new venv and its entry point
started (the controller's: tests/integration/test_controller_only_install.py), and the TPU learner's
(TensorFlow without CUDA) installed and run. The CPU and GPU learner images' and
the Atari/MuJoCo/Football actor's extras download gigabytes (TensorFlow, CUDA, envpool), so for them the
test checks the Dockerfiles' structure (tests/unit/test_image_pins.py resolves the learners' pins). Marked `integration` (about a minute with a warm pip cache).
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"


def dockerfile_extras(name: str) -> list[str]:
    text = (DOCKER / f"{name}.Dockerfile").read_text()
    declared = re.search(r"^ARG EXTRAS=(\S+)$", text, re.MULTILINE)
    step = re.search(r'^RUN docker/install.sh /opt/venv "?([^"\s]+)"?$', text, re.MULTILINE)
    assert step, f"{name}.Dockerfile has no install step"
    return (declared.group(1) if step.group(1) == "${EXTRAS}" else step.group(1)).split(",")


def test_dockerfiles_are_multi_stage_non_root_and_name_real_extras():
    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    for name in ("controller", "actor"):
        text = (DOCKER / f"{name}.Dockerfile").read_text()
        assert text.count("\nFROM ") + text.startswith("FROM ") >= 2, name
        assert "USER 10001:10001" in text and "COPY --from=build /opt/venv /opt/venv" in text
        assert set(dockerfile_extras(name)) <= extras, name
    assert "tensorflow" not in " ".join(dockerfile_extras("actor"))


def learner_stages() -> dict[str, str]:
    """stage name -> its lines, of docker/learner.Dockerfile."""
    text = (DOCKER / "learner.Dockerfile").read_text()
    stages = re.split(r"^FROM ", text, flags=re.MULTILINE)[1:]
    return {stage.split("\n")[0].split(" AS ")[1]: stage for stage in stages}


def test_the_learner_dockerfile_has_a_non_root_target_per_accelerator():
    stages = learner_stages()
    assert list(stages)[-1] == "gpu"  # a build without --target makes the GPU learner
    assert "USER 10001:10001" in stages["runtime"]
    for target in ("cpu", "gpu", "tpu"):
        assert stages[target].startswith("runtime AS "), target  # the non-root runtime stage
        assert f"COPY --from=build-{target} /opt/venv /opt/venv" in stages[target]
        assert "--chown" not in stages[target]  # root-owned, readable by uid 10001, never written by it


def test_the_gpu_learner_finds_the_driver_gke_mounts():
    env = " ".join(line for line in learner_stages()["gpu"].splitlines() if line.startswith("ENV "))
    assert "LD_LIBRARY_PATH=/usr/local/nvidia/lib64" in env
    assert re.search(r"PATH=\$PATH:/usr/local/nvidia/bin\b", env)


def install(tmp_path: Path, extras: str) -> Path:
    venv = tmp_path / "venv"
    subprocess.run(["sh", str(DOCKER / "install.sh"), str(venv), extras, str(ROOT)], check=True, timeout=900)
    return venv


@pytest.mark.slow
@pytest.mark.integration
def test_actor_image_install(tmp_path):
    venv = install(tmp_path, "actor")
    code = ("from seedrl.envs.describe import env_spec; import importlib.util as u; "
            "assert u.find_spec('tensorflow') is None; print(env_spec('gym:CartPole-v1'))")
    out = subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip()  # the env spec of CartPole, made without TensorFlow


@pytest.mark.slow
@pytest.mark.integration
def test_tpu_learner_image_install_imports_tensorflow_and_fails_without_a_tpu(tmp_path):
    """The tpu target's install step: tensorflow-tpu imports with the project's protobuf and the pinned libtpu
    (a newer libtpu aborts at import), and a learner asked for a TPU on this TPU-less machine ends failed
    with its reason. TPU_SKIP_MDS_QUERY keeps libtpu from asking a GCE metadata server that is not here."""
    venv = install(tmp_path, "learner-tpu")
    code = ("import json, pathlib, sys, tensorflow as tf, google.protobuf as pb; "
            "from seedrl.spec.learner import LearnerConfig; from seedrl.learner.main import run_learner; "
            "print(tf.__version__, pb.__version__); "
            "c = LearnerConfig(experiment='tpu', logdir=pathlib.Path(sys.argv[1]), port=0, devices={'accelerator': 'tpu'}); "
            "print(run_learner(c)); print(json.loads(c.folder.final_status.read_text())['end_message'])")
    result = subprocess.run([str(venv / "bin" / "python"), "-c", code, str(tmp_path / "run")], capture_output=True,
                            text=True, timeout=600, env={"PATH": "/usr/bin:/bin", "TPU_SKIP_MDS_QUERY": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    versions, exit_code, message = result.stdout.strip().splitlines()[-3:]
    assert versions.startswith("2.20.")
    assert exit_code == "1" and "TensorFlow sees no TPU device" in message
