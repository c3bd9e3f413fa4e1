"""Checkpoints of real `seedrl train` runs: `seedrl eval` plays fresh episodes in one process (no learner),
and `seedrl export` writes a SavedModel that plain TensorFlow serves as the learner acts.

Three runs are shared by the tests of this module: a short Pong run (checkpoint plumbing, videos, env
options), a CartPole run trained by PPO until solved (the trained policy itself, and its export), and a short
CartPole run of R2D2 with an LSTM core (recurrent state through an export).
"""

from __future__ import annotations

import json
import subprocess
import sys

import imageio_ffmpeg
import numpy as np
import pytest
from seedrl.envs.batch import EnvBatch
from seedrl.envs.describe import env_spec
from seedrl.learner.agents.base import StepInputs
from seedrl.learner.evaluate import resolve, restore_agent

from tests.integration.helpers import Run, seedrl

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EPISODE_STEPS = 100  # the run's max_episode_frames (400) over Atari's frame skip (4)


@pytest.fixture(scope="module")
def pong_run(tmp_path_factory):
    """A short Pong run (ALE backend, 100-step episodes) with a final checkpoint."""
    logdir = tmp_path_factory.mktemp("pong")
    process = seedrl(
        "train", "--env", "atari:Pong", "--env-options.backend", "ale", "--env-options.max-episode-frames", "400",
        "--actors", "1", "--envs-per-actor", "2", "--vtrace.batch-size", "2", "--vtrace.unroll-length", "8",
        "--total-frames", "1600", "--logdir", str(logdir), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    out, _ = process.communicate(timeout=240)
    assert process.returncode == 0, out
    return logdir


def seedrl_eval(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "seedrl.cli", "eval", *args], capture_output=True, text=True, timeout=240)


def test_eval_prints_return_statistics_of_the_newest_checkpoint(pong_run):
    done = seedrl_eval("--checkpoint", str(pong_run), "--episodes", "3", "--envs", "2")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["episodes"] == 3 and len(result["returns"]) == 3 and result["policy"] == "greedy"
    assert result["checkpoint"].startswith(str(pong_run / "checkpoints" / "ckpt-"))
    assert result["min_return"] <= result["mean_return"] <= result["max_return"]
    assert all(-21 <= r <= 21 for r in result["returns"])
    assert result["mean_length"] == EPISODE_STEPS  # the run's env options (the time limit) are used


def test_eval_records_the_first_episode_as_a_video_and_can_sample_actions(pong_run, tmp_path):
    video = tmp_path / "pong.mp4"
    checkpoint = max((pong_run / "checkpoints").glob("ckpt-*.index")).with_suffix("")
    done = seedrl_eval("--checkpoint", str(checkpoint), "--episodes", "1", "--sample", "--video", str(video))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["video"] == str(video) and result["policy"] == "sampled"
    frames = imageio_ffmpeg.read_frames(str(video))
    meta = next(frames)
    assert meta["size"] == (160, 210)  # the full Atari screen, not the 84x84 observation
    assert sum(1 for _ in frames) >= EPISODE_STEPS


def test_eval_takes_other_env_options_but_refuses_envs_with_other_spaces(pong_run):
    done = seedrl_eval("--checkpoint", str(pong_run), "--episodes", "1",
                       "--env-options", '{"sticky_actions": true, "max_episode_frames": 200}')
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["mean_length"] == 50
    done = seedrl_eval("--checkpoint", str(pong_run), "--episodes", "1", "--env", "atari:Breakout")
    assert done.returncode != 0 and "action_space" in done.stderr and "atari:Pong" in done.stderr
    done = seedrl_eval("--checkpoint", str(pong_run / "nothing"), "--episodes", "1")
    assert done.returncode != 0 and "no checkpoint" in done.stderr


# --- Trained CartPole policies ---------------------------------------------------------

# A greedy policy of a run whose last 100 training episodes (sampled actions) averaged 475 or more.
GREEDY_RETURN_FLOOR = 450


@pytest.fixture(scope="module")
def solved_cartpole(solved_ppo_cartpole) -> Run:
    """CartPole-v1 trained by the ppo preset to a mean return of 475, ending with a checkpoint."""
    assert solved_ppo_cartpole.summary["checkpoint"], solved_ppo_cartpole.summary
    return solved_ppo_cartpole


@pytest.fixture(scope="module")
def recurrent_cartpole(solved_r2d2_cartpole) -> Run:
    """CartPole-v1 solved by R2D2 with an LSTM core (32 units), ending with a checkpoint."""
    assert solved_r2d2_cartpole.summary["checkpoint"], solved_r2d2_cartpole.summary
    return solved_r2d2_cartpole


def test_eval_of_a_solved_cartpole_checkpoint_scores_near_the_maximum_greedily(solved_cartpole):
    done = seedrl_eval("--checkpoint", str(solved_cartpole.logdir), "--episodes", "20", "--envs", "4", "--seed", "7")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["policy"] == "greedy" and result["episodes"] == 20
    assert result["checkpoint"] == solved_cartpole.summary["checkpoint"]
    assert result["mean_return"] >= GREEDY_RETURN_FLOOR, result


# Loads and runs the SavedModel with TensorFlow and NumPy only: importing seedrl fails in this process.
PLAIN_TENSORFLOW = """
import importlib.abc
import sys


class NoSeedrl(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "seedrl":
            raise ImportError(f"{name}: a served policy must not need seedrl")


sys.meta_path.insert(0, NoSeedrl())
import numpy as np
import tensorflow as tf

model, recorded, out = sys.argv[1:]
steps = dict(np.load(recorded))
serve = tf.saved_model.load(model).signatures["serving_default"]
takes = set(serve.structured_input_signature[1])
state = {name: steps[name + "_initial"] for name in takes if name.startswith("state_")}
served = {}
for t in range(len(steps["observation"])):
    inputs = {name: tf.constant(steps[name][t]) for name in takes - set(state)}
    outputs = {name: tensor.numpy() for name, tensor in serve(**inputs, **state).items()}
    state = {name: outputs[name] for name in state}
    for name, value in outputs.items():
        served.setdefault(name, []).append(value)
served = {name: np.stack(values) for name, values in served.items()}
if state:  # the last step again from a zero state: what the network makes of the observation alone
    last = {name: tf.constant(steps[name][-1]) for name in takes - set(state)}
    zero = serve(**last, **{name: tf.zeros_like(value) for name, value in state.items()})
    served["value_from_zero_state"] = zero["value"].numpy()
np.savez(out, **served)
assert not [name for name in sys.modules if name.split(".")[0] == "seedrl"]
"""


def act_as_the_learner(run: Run, steps: int, envs: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Play `envs` envs for `steps` steps with the run's checkpoint restored as the learner restores it.

    Returns what the policy was given at each step (observation, done, prev_action, reward [T, K, ...]) plus the
    initial state (`state_i_initial` [K, ...]), and what it answered: its deterministic action [T, K] (argmax Q
    for R2D2, whose `greedy_action` keeps eval_epsilon), value [T, K] and state (`state_i` [T, K, ...]).
    """
    config, checkpoint = resolve(run.logdir)
    spec = env_spec(config.env, config.env_options)
    agent = restore_agent(config, spec, checkpoint)
    batch = EnvBatch.make(config.env, envs, 11, config.env_options)
    state = tuple(np.zeros((envs, *s.shape), s.dtype) for s in agent.state_specs)
    given: dict[str, list | np.ndarray] = {f"state_{i}_initial": component for i, component in enumerate(state)}
    answered: dict[str, list] = {}
    step = batch.reset()
    done = np.ones(envs, bool)
    prev_action = np.zeros((envs, *spec.action_shape), spec.action_dtype)
    try:
        for _ in range(steps):
            inputs = StepInputs(step.observations, done, prev_action, step.rewards, np.arange(envs, dtype=np.int32))
            for name in ("observation", "done", "prev_action", "reward"):
                given.setdefault(name, []).append(np.array(getattr(inputs, name)))
            out = agent.act(inputs, state)
            state = out.state
            q_values = out.extras.get("q_values")
            prev_action = out.greedy_action if q_values is None else q_values.argmax(-1).astype(spec.action_dtype)
            for name, value in [("greedy_action", prev_action), ("value", out.value),
                                *((f"state_{i}", s) for i, s in enumerate(state))]:
                answered.setdefault(name, []).append(value)
            step = batch.step(prev_action)
            done = step.terminated | step.truncated
    finally:
        batch.close()
    stacked = lambda d: {name: np.stack(v) if isinstance(v, list) else v for name, v in d.items()}  # noqa: E731
    return stacked(given), stacked(answered)


@pytest.mark.parametrize("run_name", ["solved_cartpole", "recurrent_cartpole"], ids=["ppo", "r2d2-lstm"])
def test_an_exported_policy_served_by_plain_tensorflow_acts_as_the_learner(request, run_name, tmp_path):
    """Over 520 steps of 4 envs (CartPole's episodes end within 500 steps, so a recurrent state is carried
    across steps and reset where an episode starts) the SavedModel, fed its own state, gives the learner's
    deterministic actions, values and recurrent state."""
    run: Run = request.getfixturevalue(run_name)
    model = tmp_path / "model"
    exported = subprocess.run(
        [sys.executable, "-m", "seedrl.cli", "export", "--config", str(run.logdir / "learner.json"),
         "--checkpoint", run.summary["checkpoint"], "--out", str(model)], capture_output=True, text=True, timeout=240,
    )
    assert exported.returncode == 0, exported.stderr
    given, learner = act_as_the_learner(run, steps=520, envs=4)
    assert given["done"][1:].any()  # episodes ended and new ones started within the steps
    np.savez(tmp_path / "given.npz", **given)

    plain = subprocess.run(
        [sys.executable, "-I", "-c", PLAIN_TENSORFLOW, str(model), str(tmp_path / "given.npz"), str(tmp_path / "served.npz")],
        capture_output=True, text=True, timeout=240, cwd=tmp_path,
    )
    assert plain.returncode == 0, plain.stderr
    served = dict(np.load(tmp_path / "served.npz"))
    np.testing.assert_array_equal(served["greedy_action"], learner["greedy_action"])
    assert len(np.unique(learner["greedy_action"])) > 1  # a policy that depends on what it sees
    np.testing.assert_allclose(served["value"], learner["value"], rtol=1e-5, atol=1e-5)
    states = sorted(name for name in learner if name.startswith("state_"))
    assert states == (["state_0", "state_1"] if run_name == "recurrent_cartpole" else [])
    for name in states:
        np.testing.assert_allclose(served[name], learner[name], rtol=1e-5, atol=1e-5)
    if states:  # the state matters: from a zero state the last step's value is not the carried state's
        assert np.abs(served["value_from_zero_state"] - served["value"][-1]).max() > 1e-3
