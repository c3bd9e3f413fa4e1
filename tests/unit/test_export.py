"""SavedModel export of a learner checkpoint: the served policy is the checkpoint's policy."""

import numpy as np
import pytest
import tensorflow as tf

from seedrl.envs.describe import env_spec
from seedrl.learner.agents import build_agent
from seedrl.learner.agents.base import StepInputs
from seedrl.learner.checkpoints import Checkpointer
from seedrl.spec.learner import LearnerConfig
from seedrl.learner.episodes import EpisodeStats
from seedrl.learner.export import export_saved_model

NUM_ACTIONS = 2  # CartPole


def learner_config(tmp_path, lstm_size: int, prev_action_reward: bool = False) -> LearnerConfig:
    return LearnerConfig(
        env="gym:CartPole-v1", logdir=tmp_path / "run", total_frames=1000,
        vtrace={"batch_size": 2, "unroll_length": 2},
        network={"hidden_sizes": (16,), "lstm_size": lstm_size, "prev_action_reward": prev_action_reward},
    )


def perturb(variables, seed: int) -> None:
    """Move every weight far from its initialisation, so outputs depend on all of them."""
    rng = np.random.default_rng(seed)
    for variable in variables:
        variable.assign(rng.normal(scale=0.5, size=variable.shape).astype(np.float32))


@pytest.mark.parametrize(("lstm_size", "prev_action_reward"), [(0, False), (8, False), (8, True)],
                         ids=["mlp", "lstm", "lstm-prev-action-reward"])
def test_exported_model_serves_the_checkpointed_policy(tmp_path, lstm_size, prev_action_reward):
    config = learner_config(tmp_path, lstm_size, prev_action_reward)
    agent = build_agent(config, env_spec(config.env))
    stats = EpisodeStats()
    checkpointer = Checkpointer(config.folder.checkpoints, agent.checkpoint_items(), stats, config.checkpoint.keep)
    network = agent.checkpoint_items()["network"]
    perturb(network.trainable_variables, seed=1)
    stats.frames = 640
    stats.record(np.array([9.0, 11.0]), np.array([9, 11]))
    path = checkpointer.save(5)

    out = export_saved_model(config, config.folder.checkpoints / "ckpt-5", tmp_path / "export" / "model")
    assert path.endswith("ckpt-5") and out == tmp_path / "export" / "model"
    assert sorted(p.name for p in out.parent.iterdir()) == ["model"]  # no temporary directory left behind
    serve = tf.saved_model.load(str(out)).signatures["serving_default"]

    rng = np.random.default_rng(2)
    observations = rng.normal(size=(5, 4)).astype(np.float32)
    done = np.array([True, False, True, False, False])
    prev_action = np.array([1, 1, 0, 1, 0], np.int32)
    reward = np.array([0.5, 1.0, -1.0, 0.0, 1.0], np.float32)
    state = tuple(rng.normal(size=(5, s.shape[0])).astype(np.float32) for s in agent.state_specs)
    inputs = {"observation": tf.constant(observations)}
    if lstm_size:
        inputs["done"] = tf.constant(done)
        inputs.update({f"state_{i}": tf.constant(component) for i, component in enumerate(state)})
    if prev_action_reward:
        inputs.update(prev_action=tf.constant(prev_action), reward=tf.constant(reward))
    assert set(serve.structured_input_signature[1]) == set(inputs)
    served = {name: tensor.numpy() for name, tensor in serve(**inputs).items()}
    if not lstm_size:
        done = np.zeros(5, bool)  # what serving assumes without a `done` input
    if not prev_action_reward:
        prev_action, reward = np.zeros(5, np.int32), np.zeros(5, np.float32)
    expected = agent.act(StepInputs(observations, done, prev_action, reward, np.arange(5, dtype=np.int32)), state)

    expected_keys = {"action", "greedy_action", "logits", "value"} | {f"state_{i}" for i in range(len(state))}
    assert set(served) == expected_keys
    assert served["logits"].shape == (5, NUM_ACTIONS) and served["value"].shape == (5,)
    np.testing.assert_allclose(served["logits"], expected.extras["behaviour_logits"], atol=1e-5)
    np.testing.assert_allclose(served["value"], expected.value, atol=1e-5)
    for i, component in enumerate(expected.state):
        np.testing.assert_allclose(served[f"state_{i}"], component, atol=1e-5)
    assert np.ptp(served["logits"]) > 0.1  # the weights are the perturbed ones, not near-uniform initial logits
    np.testing.assert_array_equal(served["greedy_action"], served["logits"].argmax(-1))
    assert served["action"].shape == (5,) and ((served["action"] >= 0) & (served["action"] < NUM_ACTIONS)).all()


def test_exporting_a_missing_checkpoint_fails_clearly(tmp_path):
    config = learner_config(tmp_path, 0)
    with pytest.raises(FileNotFoundError, match="ckpt-7"):
        export_saved_model(config, config.folder.checkpoints / "ckpt-7", tmp_path / "model")
    assert not (tmp_path / "model").exists()
