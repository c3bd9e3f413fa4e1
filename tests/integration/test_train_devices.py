"""A learner with inference on a device of its own and training on two replicas solves CartPole.

No GPU here: `--devices.accelerator cpu` makes the learner split its CPU into three logical
devices (the same code path as a node's GPUs, without NCCL). Nine runs of this configuration on
a 2-core machine solved CartPole-v1 after 0.28M-1.05M frames (median 0.48M), so it gets the same
budget and second attempt as the single-device run (`tests/integration/test_train.py`).
"""

from __future__ import annotations

import pytest

from tests.integration.helpers import assert_policy_lag_within, train_until_solved
from tests.integration.test_train import CARTPOLE_FRAME_BUDGET, VTRACE_CARTPOLE

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_split_inference_and_replicated_training_solve_cartpole(tmp_path):
    run = train_until_solved(
        tmp_path, *VTRACE_CARTPOLE, "--devices.accelerator", "cpu", "--devices.inference", "1",
        "--devices.training", "2", "--devices.weight-refresh-steps", "2", frames=CARTPOLE_FRAME_BUDGET, target=475,
    )
    log = (run.logdir / "logs" / "learner.log").read_text()
    assert "devices: CPU inference: /device:CPU:2; training (2 replicas): /device:CPU:0, /device:CPU:1" in log
    # Acting copies are refreshed every 2 steps, and the queue holds 2 batches: lag stays small.
    assert_policy_lag_within(run.logdir, 6)
