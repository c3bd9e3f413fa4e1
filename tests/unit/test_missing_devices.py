"""A learner asked for GPUs or a TPU that it does not see fails with its reason, never trains on the CPU.

This machine has no GPU and no TPU: it is exactly the node whose driver is missing. The learner is the
real one (TensorFlow, its device plan), run as `seedrl learner` runs it.
"""

from __future__ import annotations

import json

import pytest

from seedrl.controller.runtimes.kubernetes import manifests as mf
from seedrl.controller.runtimes.kubernetes.options import KubernetesOptions
from seedrl.learner import main as learner_main
from seedrl.learner.main import run_learner
from seedrl.spec.experiment import ExperimentSpec
from seedrl.spec.learner import LearnerConfig


@pytest.mark.parametrize("accelerator", ["gpu", "tpu"])
def test_a_learner_that_sees_none_of_its_accelerators_fails_and_says_why(tmp_path, accelerator, monkeypatch):
    termination_log = tmp_path / "termination-log"  # what the kubelet mounts at /dev/termination-log
    termination_log.touch()
    monkeypatch.setattr(learner_main, "TERMINATION_LOG", termination_log)
    config = LearnerConfig(experiment="pong", logdir=tmp_path / "run", port=0, devices={"accelerator": accelerator})
    assert run_learner(config) == 1
    final = json.loads(config.folder.final_status.read_text())
    assert final["end_reason"] == "failed" and not final.get("done")
    kind = accelerator.upper()
    assert f"devices.accelerator is {accelerator}, but TensorFlow sees no {kind} device" in final["end_message"]
    assert "does not fall back to the CPU" in final["end_message"]
    assert not config.folder.checkpoints.exists() or not any(config.folder.checkpoints.iterdir())
    assert termination_log.read_text() == final["end_message"]  # kubectl describe pod shows it


def test_a_learner_pod_given_gpus_is_configured_to_use_them():
    """The pod's nvidia.com/gpu request pins the learner to the GPU, so the test above applies to it."""
    options = KubernetesOptions(learner_image="l", actor_image="a")
    spec = ExperimentSpec(name="pong", resources={"learner": {"gpu": 1, "gpu_type": "nvidia-l4"}})
    config = json.loads(mf.config_map(spec, mf.Owner("pong", "uid", "rl"), options, None)["data"]["learner.json"])
    assert config["devices"]["accelerator"] == "gpu"
    assert LearnerConfig.model_validate(config).devices.accelerator == "gpu"
    cpu = ExperimentSpec(name="pong")
    config = json.loads(mf.config_map(cpu, mf.Owner("pong", "uid", "rl"), options, None)["data"]["learner.json"])
    assert config["devices"]["accelerator"] == "auto"
