"""SAC's networks: a tanh-Gaussian policy and a Q critic, each on its own shared-architecture Encoder."""

from __future__ import annotations

import tensorflow as tf

from seedrl.common.spaces import EnvSpec
from seedrl.learner.networks.encoder import Encoder
from seedrl.spec.network import NetworkConfig


def _inputs(steps: dict[str, tf.Tensor]) -> tuple[tf.Tensor, ...]:
    """The Encoder's per-step inputs from time-major steps: observation, done, previous action, reward."""
    done = tf.logical_or(steps["terminated"], steps["truncated"])
    return steps["observation"], done, steps["prev_action"], steps["reward"]


class PolicyNetwork(tf.keras.Model):
    """Encoder + a linear layer: observations -> the `param_size` parameters of the action distribution."""

    def __init__(self, spec: EnvSpec, config: NetworkConfig, param_size: int):
        super().__init__()
        self.encoder = Encoder(spec, config)
        self.params = tf.keras.layers.Dense(
            param_size, kernel_initializer=tf.keras.initializers.Orthogonal(0.01)
        )

    def step(self, observation, done, prev_action, reward) -> tf.Tensor:
        """N rows -> distribution parameters [N, P]."""
        features, _ = self.encoder.step(observation, done, prev_action, reward, ())
        return self.params(features)

    def unroll(self, steps: dict[str, tf.Tensor]) -> tf.Tensor:
        """Time-major steps [T, B, ...] -> distribution parameters [T, B, P]."""
        return self.params(self.encoder.unroll(*_inputs(steps), ()))


class QNetwork(tf.keras.Model):
    """Encoder(observation) concatenated with the action in [-1, 1], then two ReLU layers: -> Q [...]."""

    def __init__(self, spec: EnvSpec, config: NetworkConfig, hidden_size: int):
        super().__init__()
        self.encoder = Encoder(spec, config)
        # Layers held as attributes, which checkpoints track.
        self.hidden_1 = tf.keras.layers.Dense(hidden_size, activation="relu")
        self.hidden_2 = tf.keras.layers.Dense(hidden_size, activation="relu")
        self.out = tf.keras.layers.Dense(1)

    def features(self, steps: dict[str, tf.Tensor]) -> tf.Tensor:
        """Time-major steps [T, B, ...] -> observation features [T, B, F] (computed once, used with several actions)."""
        return self.encoder.unroll(*_inputs(steps), ())

    def step_features(self, observation, done, prev_action, reward) -> tf.Tensor:
        """N rows -> features [N, F]."""
        return self.encoder.step(observation, done, prev_action, reward, ())[0]

    def q(self, features: tf.Tensor, unit_action: tf.Tensor) -> tf.Tensor:
        """features [..., F] and actions scaled to [-1, 1] [..., D] -> Q-values [...]."""
        x = tf.concat([features, unit_action], axis=-1)
        return self.out(self.hidden_2(self.hidden_1(x)))[..., 0]
