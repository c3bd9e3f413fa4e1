"""A learner with inference on a device of its own and training on two replicas solves CartPole.

No GPU here: `--devices.accelerator cpu` makes the learner split its CPU into three logical
devices (the same code path as a node's GPUs, without NCCL). The run in docs/devices.md solved
CartPole-v1 after 0.33M frames; the budget allows about 2.5x that.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.integration.helpers import pids_with, seedrl
from tests.integration.test_train_on_policy import scalars

pytestmark = pytest.mark.integration

FRAME_BUDGET = 800_000


def test_split_inference_and_replicated_training_solve_cartpole(tmp_path):
    process = seedrl(
        "train", "--env", "gym:CartPole-v1", "--agent", "vtrace", "--actors", "2", "--envs-per-actor", "16",
        "--total-frames", str(FRAME_BUDGET), "--stop-at-return", "475", "--max-seconds", "400",
        "--devices.accelerator", "cpu", "--devices.inference", "1", "--devices.training", "2",
        "--devices.weight-refresh-steps", "2", "--logdir", str(tmp_path),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    out, _ = process.communicate(timeout=600)
    assert process.returncode == 0, out
    assert pids_with(str(tmp_path)) == []
    result = json.loads((tmp_path / "summary.json").read_text())
    assert result["stop_reason"] == "solved", result
    assert result["mean_return_100"] >= 475 and result["frames"] <= FRAME_BUDGET
    log = (tmp_path / "logs" / "learner.log").read_text()
    assert "devices: CPU inference: /device:CPU:2; training (2 replicas): /device:CPU:0, /device:CPU:1" in log
    # Acting copies are refreshed every 2 steps, and the queue holds 2 batches: lag stays small.
    lags = scalars(tmp_path / "tensorboard", "seedrl_policy_lag_steps")
    assert lags and max(lags) <= 6, lags
