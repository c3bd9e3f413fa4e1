"""The on-policy agent learns: `seedrl train` with real learner and actor processes (docs/agents.md).

Frame budgets are about 2.5x the frames the runs in docs/benchmarks.md needed, for slower runs on a
loaded machine.
"""

from __future__ import annotations

import json
import subprocess

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.util import tensor_util

from tests.integration.helpers import pids_with, seedrl

pytestmark = pytest.mark.integration

# PPO and V-MPO solve CartPole-v1 at 2 x 16 envs after about 0.15M-0.25M frames (docs/benchmarks.md).
CARTPOLE_FRAME_BUDGET = 600_000
# HalfCheetah-v5: a uniformly random policy scores -278 +- 62 (10 episodes of 1000 steps); PPO passes a
# mean return of 500 after about 0.15M-0.2M frames (docs/benchmarks.md), about a minute on 2 cores.
HALFCHEETAH_RANDOM_RETURN = -278.0
HALFCHEETAH_TARGET_RETURN = 500.0
HALFCHEETAH_FRAME_BUDGET = 500_000
# The PPO options of examples/halfcheetah.yaml, on 2 actors x 16 envs.
HALFCHEETAH_PPO = [
    "--policy-gradient.batch-size", "32", "--policy-gradient.unroll-length", "64", "--policy-gradient.epochs", "10",
    "--policy-gradient.minibatches", "32", "--policy-gradient.learning-rate", "3e-4",
    "--policy-gradient.normalize-observations", "--policy-gradient.normalize-values",
]


def train(logdir, env: str, agent: str, frames: int, target: float, *options: str) -> dict:
    """One `seedrl train` run until the mean return of 100 episodes reaches `target`: its summary.json."""
    process = seedrl(
        "train", "--env", env, "--agent", agent, "--actors", "2", "--envs-per-actor", "16",
        "--total-frames", str(frames), "--stop-at-return", str(target), "--max-seconds", "400",
        "--logdir", str(logdir), *options, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    out, _ = process.communicate(timeout=600)
    assert process.returncode == 0, out
    assert pids_with(str(logdir)) == []  # no stray processes
    return json.loads((logdir / "summary.json").read_text())


@pytest.mark.parametrize("agent", ["ppo", "vmpo"])
def test_the_preset_solves_cartpole_within_the_frame_budget(tmp_path, agent):
    result = train(tmp_path, "gym:CartPole-v1", agent, CARTPOLE_FRAME_BUDGET, 475)
    assert result["stop_reason"] == "solved", result
    assert result["agent"] == agent and result["mean_return_100"] >= 475
    assert result["frames"] <= CARTPOLE_FRAME_BUDGET
    # Policy lag counts updates (not the epochs x minibatches gradient steps within one): the training
    # queue holds unroll_queue_batches = 2 batches, so an unroll is trained a few updates after it was acted.
    lags = scalars(tmp_path / "tensorboard", "seedrl_policy_lag_steps")
    assert lags and max(lags) <= 4, lags
    assert scalars(tmp_path / "tensorboard", f"{agent}/explained_variance")


def scalars(folder, tag: str) -> list[float]:
    accumulator = EventAccumulator(str(folder))
    accumulator.Reload()
    if tag not in accumulator.Tags()["tensors"]:
        return []
    return [float(tensor_util.make_ndarray(event.tensor_proto)) for event in accumulator.Tensors(tag)]


def test_ppo_on_halfcheetah_improves_far_above_a_random_policy(tmp_path):
    pytest.importorskip("mujoco", reason="needs the mujoco extra: pip install 'seedrl[mujoco]'")
    result = train(
        tmp_path, "mujoco:HalfCheetah-v5", "ppo", HALFCHEETAH_FRAME_BUDGET, HALFCHEETAH_TARGET_RETURN, *HALFCHEETAH_PPO
    )
    assert result["stop_reason"] == "solved", result
    assert result["mean_return_100"] >= HALFCHEETAH_TARGET_RETURN > HALFCHEETAH_RANDOM_RETURN + 10 * 62
