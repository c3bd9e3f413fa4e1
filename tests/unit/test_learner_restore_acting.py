"""A restarted learner acts with the policy it restored, and labels its unrolls with that policy's version.

The learner is the real one (its device plan, agent, checkpoints), built in-process without serving.
This machine has no GPU: with `devices.inference: 1` a logical CPU (tests/conftest.py) stands in for
the GPU whose copy of the agent serves inference.
"""

from __future__ import annotations

import numpy as np
import pytest

from seedrl.learner.main import Learner
from seedrl.spec.learner import LearnerConfig
from tests.unit.test_devices import random_batch, step_inputs

DEVICES = {
    "live weights": {},
    "inference copy": {"accelerator": "cpu", "inference": 1, "training": 1, "weight_refresh_steps": 100},
}


def learner(tmp_path, devices: dict) -> Learner:
    return Learner(LearnerConfig(
        logdir=tmp_path / "run", port=0, metrics_port=-1, devices=devices,
        network={"hidden_sizes": [32]}, vtrace={"batch_size": 8, "unroll_length": 5},
    ))


@pytest.mark.parametrize("devices", DEVICES.values(), ids=DEVICES.keys())
def test_a_restarted_learner_acts_with_the_restored_policy_and_its_version(tmp_path, devices):
    first = learner(tmp_path, devices)
    batch = random_batch(first.agent)
    for _ in range(3):
        first.agent.train(batch, frames=0)
    first.checkpointer.save(first.agent.steps)
    inputs = step_inputs(np.random.default_rng(1).normal(size=(16, 4)).astype(np.float32))
    trained = first.agent.act(inputs, ()).extras["behaviour_logits"]

    second = learner(tmp_path, devices)
    assert second.restored_from and second.agent.steps == 3
    out, version = second.acting.act(inputs, ())
    assert version == 3
    np.testing.assert_allclose(out.extras["behaviour_logits"], trained, rtol=1e-5)
