"""The on-policy agent learns: `seedrl train` with real learner and actor processes (docs/agents.md).

Frame budgets are about 2.5x the frames the runs in docs/benchmarks.md needed, for slower runs on a
loaded machine, with a second attempt (`train_until_solved`).
"""

from __future__ import annotations

import pytest

from tests.integration.helpers import scalars, train_until_solved

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# PPO and V-MPO solve CartPole-v1 at 2 x 16 envs after about 0.15M-0.25M frames (docs/benchmarks.md).
CARTPOLE_FRAME_BUDGET = 600_000
# HalfCheetah-v5: a uniformly random policy scores -278 +- 62 (10 episodes of 1000 steps), so 500 is more
# than 12 standard deviations above it; PPO passes a mean return of 500 after about 0.15M-0.2M frames
# (docs/benchmarks.md), about a minute on 2 cores.
HALFCHEETAH_TARGET_RETURN = 500.0
HALFCHEETAH_FRAME_BUDGET = 500_000
# The PPO options of examples/halfcheetah.yaml, on 2 actors x 16 envs.
HALFCHEETAH_PPO = [
    "--policy-gradient.batch-size", "32", "--policy-gradient.unroll-length", "64", "--policy-gradient.epochs", "10",
    "--policy-gradient.minibatches", "32", "--policy-gradient.learning-rate", "3e-4",
    "--policy-gradient.normalize-observations", "--policy-gradient.normalize-values",
]


def on_policy(env: str, agent: str, *options: str) -> list[str]:
    """`seedrl train` flags for `agent` on `env` with 2 actors x 16 envs."""
    return ["--env", env, "--agent", agent, "--actors", "2", "--envs-per-actor", "16", *options]


@pytest.mark.parametrize("agent", ["ppo", "vmpo"])
def test_the_preset_solves_cartpole_within_the_frame_budget(tmp_path, agent):
    run = train_until_solved(tmp_path, *on_policy("gym:CartPole-v1", agent), frames=CARTPOLE_FRAME_BUDGET, target=475)
    assert run.summary["agent"] == agent
    # Policy lag counts updates (not the epochs x minibatches gradient steps within one): the training
    # queue holds unroll_queue_batches = 2 batches, so an unroll is trained a few updates after it was acted.
    lags = scalars(run.logdir / "tensorboard", "seedrl_policy_lag_steps")
    assert lags and max(lags) <= 4, lags
    assert scalars(run.logdir / "tensorboard", f"{agent}/explained_variance")


def test_ppo_on_halfcheetah_improves_far_above_a_random_policy(tmp_path):
    pytest.importorskip("mujoco", reason="needs the mujoco extra: pip install 'seedrl[mujoco]'")
    train_until_solved(
        tmp_path, *on_policy("mujoco:HalfCheetah-v5", "ppo", *HALFCHEETAH_PPO),
        frames=HALFCHEETAH_FRAME_BUDGET, target=HALFCHEETAH_TARGET_RETURN,
    )
