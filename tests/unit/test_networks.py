"""Networks: torso shapes and sizes against the papers' layouts, the LSTM core and the previous action/reward inputs."""

import numpy as np
import pytest
import tensorflow as tf

from seedrl.common.spaces import BoxSpace, DiscreteSpace, EnvSpec
from seedrl.learner.networks.encoder import Encoder
from seedrl.learner.networks.policy_value import PolicyValueNetwork
from seedrl.learner.networks.torsos import build_torso
from seedrl.spec.network import NetworkConfig
from tests.unit.test_tensors_and_specs import cartpole_spec


def image_spec(shape=(84, 84, 4)) -> EnvSpec:
    return EnvSpec(
        "atari:Pong", BoxSpace(shape, "uint8", np.zeros(shape, np.uint8), np.full(shape, 255, np.uint8)),
        DiscreteSpace(6), frames_per_step=4,
    )


def conv_params(k: int, c_in: int, c_out: int) -> int:
    return k * k * c_in * c_out + c_out


def test_impala_torso_matches_the_deep_resnet_layout():
    """16/32/32 channels, each a conv, a stride-2 max-pool and two residual blocks of two convs; FC 256."""
    torso = build_torso(NetworkConfig(), (84, 84, 4))
    out = torso(tf.zeros([2, 84, 84, 4], tf.uint8))
    assert out.shape == (2, 256)
    expected, channels_in, side = 0, 4, 84
    for depth in (16, 32, 32):
        expected += conv_params(3, channels_in, depth) + 4 * conv_params(3, depth, depth)
        channels_in, side = depth, -(-side // 2)  # 'same' pooling with stride 2 rounds up
    expected += side * side * 32 * 256 + 256
    assert side == 11
    assert sum(int(np.prod(v.shape)) for v in torso.trainable_variables) == expected


def test_nature_cnn_torso_matches_the_dqn_layout():
    torso = build_torso(NetworkConfig(torso="nature", fc_size=512), (84, 84, 4))
    assert torso(tf.zeros([3, 84, 84, 4], tf.uint8)).shape == (3, 512)
    expected = conv_params(8, 4, 32) + conv_params(4, 32, 64) + conv_params(3, 64, 64) + 7 * 7 * 64 * 512 + 512
    assert sum(int(np.prod(v.shape)) for v in torso.trainable_variables) == expected


def test_auto_picks_the_resnet_for_images_and_the_mlp_for_vectors():
    assert NetworkConfig().resolved_torso((84, 84, 4)) == "impala"
    assert NetworkConfig().resolved_torso((4,)) == "mlp"
    assert NetworkConfig(torso="mlp").resolved_torso((84, 84, 4)) == "mlp"
    with pytest.raises(ValueError, match="needs image observations"):
        build_torso(NetworkConfig(torso="nature"), (4,))


def test_pixels_are_scaled_so_uint8_and_unit_floats_agree():
    torso = build_torso(NetworkConfig(torso="nature", fc_size=8), (36, 36, 1))
    pixels = np.random.default_rng(0).integers(0, 256, size=(2, 36, 36, 1), dtype=np.uint8)
    np.testing.assert_allclose(torso(tf.constant(pixels)), torso(tf.constant(pixels / 255.0, tf.float32)), atol=1e-5)


def random_rows(spec: EnvSpec, rows: int, seed: int):
    rng = np.random.default_rng(seed)
    observation = rng.normal(size=(rows, *spec.observation_shape)).astype(np.float32)
    prev_action = rng.integers(0, spec.action_space.n, size=rows).astype(np.int32)
    reward = rng.normal(size=rows).astype(np.float32) * 3
    return observation, prev_action, reward


def test_previous_action_and_reward_change_features_except_at_episode_starts():
    encoder = Encoder(cartpole_spec(), NetworkConfig(hidden_sizes=(8,), prev_action_reward=True))
    observation, prev_action, reward = random_rows(cartpole_spec(), 4, seed=1)
    done = np.array([True, True, False, False])
    features, _ = encoder.step(observation, done, prev_action, reward, ())
    zeroed, _ = encoder.step(observation, done, np.zeros_like(prev_action), np.zeros_like(reward), ())
    assert features.shape == (4, encoder.output_size) == (4, 8 + 2 + 1)
    np.testing.assert_allclose(features[:2], zeroed[:2])  # episode starts ignore the last episode's action
    one_hot = np.eye(2)[prev_action[2:]]
    np.testing.assert_allclose(features[2:, 8:], np.c_[one_hot, np.clip(reward[2:], -1, 1)], rtol=1e-6)


def test_continuous_previous_actions_are_fed_flat():
    box = BoxSpace((3,), "float32", -np.ones(3, np.float32), np.ones(3, np.float32))
    spec = EnvSpec("gym:Pendulum-v1", BoxSpace((3,), "float32", -np.ones(3), np.ones(3)), box)
    encoder = Encoder(spec, NetworkConfig(hidden_sizes=(5,), prev_action_reward=True))
    action = np.array([[0.1, -0.2, 0.3]], np.float32)
    features, _ = encoder.step(np.zeros((1, 3), np.float32), np.zeros(1, bool), action, np.array([2.0], np.float32), ())
    np.testing.assert_allclose(features[0, 5:], [0.1, -0.2, 0.3, 1.0], rtol=1e-6)


@pytest.mark.parametrize("prev_action_reward", [False, True])
def test_unroll_equals_stepping_with_state_reset_at_episode_starts(prev_action_reward):
    spec = cartpole_spec()
    network = PolicyValueNetwork(spec, NetworkConfig(hidden_sizes=(16,), lstm_size=8, prev_action_reward=prev_action_reward), 2)
    t, b = 5, 3
    observation, prev_action, reward = random_rows(spec, t * b, seed=2)
    observation = observation.reshape(t, b, 4)
    prev_action, reward = prev_action.reshape(t, b), reward.reshape(t, b)
    done = np.zeros((t, b), bool)
    done[2, 0] = done[3, 2] = True
    state = tuple(np.random.default_rng(3).normal(size=(b, 8)).astype(np.float32) for _ in range(2))
    logits, values = network.unroll(observation, done, prev_action, reward, state)
    assert logits.shape == (t, b, 2) and values.shape == (t, b)
    stepped = state
    for step in range(t):
        step_logits, step_values, stepped = network.step(observation[step], done[step], prev_action[step], reward[step], stepped)
        np.testing.assert_allclose(logits[step], step_logits, atol=1e-5)
        np.testing.assert_allclose(values[step], step_values, atol=1e-5)
    # A reset state makes row 0 at step 2 independent of the state it started with.
    fresh, _, _ = network.step(observation[2, :1], done[2, :1], prev_action[2, :1], reward[2, :1], network.initial_state(1))
    np.testing.assert_allclose(logits[2, 0], fresh[0], atol=1e-5)


def test_network_config_rejects_bad_widths():
    with pytest.raises(ValueError, match="hidden_sizes"):
        NetworkConfig(hidden_sizes=())
    with pytest.raises(ValueError, match="torso"):
        NetworkConfig(torso="resnet50")


@pytest.mark.parametrize(("config", "spec"), [
    (NetworkConfig(hidden_sizes=(8, 8), lstm_size=4, prev_action_reward=True), cartpole_spec()),
    (NetworkConfig(fc_size=16), image_spec((36, 36, 2))),
    (NetworkConfig(torso="nature", fc_size=16), image_spec((36, 36, 2))),
], ids=["mlp-lstm", "impala", "nature"])
def test_checkpoints_hold_every_weight(tmp_path, config, spec):
    """Every trainable variable is saved (layers kept in Python lists would be silently left out)."""
    network = PolicyValueNetwork(spec, config, 3)
    obs = tf.zeros([1, *spec.observation_shape], spec.observation_dtype)
    network.step(obs, tf.zeros([1], bool), tf.zeros([1], tf.int32), tf.zeros([1]), network.initial_state(1))
    path = tf.train.Checkpoint(network=network).save(str(tmp_path / "ckpt"))
    saved = {name for name, _ in tf.train.list_variables(path) if name.startswith("network/")}
    assert len(saved) == len(network.trainable_variables)
    before = [v.numpy() for v in network.trainable_variables]
    for variable in network.trainable_variables:
        variable.assign(tf.zeros_like(variable))
    tf.train.Checkpoint(network=network).restore(path).assert_existing_objects_matched()
    for restored, expected in zip(network.trainable_variables, before):
        np.testing.assert_array_equal(restored.numpy(), expected)
