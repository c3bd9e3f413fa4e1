"""R2D2's network: the shared Encoder (torso, previous action and reward, LSTM) and a dueling Q head."""

from __future__ import annotations

import tensorflow as tf

from seedrl.common.spaces import EnvSpec
from seedrl.learner.networks.encoder import Encoder
from seedrl.spec.network import NetworkConfig

State = tuple[tf.Tensor, ...]


class DuelingHead(tf.keras.layers.Layer):
    """Q = V + A - mean_a A (Wang et al. 2016): features [..., F] -> Q-values [..., A].

    Each stream is a ReLU layer and a linear one, held as attributes (which checkpoints track).
    """

    def __init__(self, num_actions: int, hidden_size: int):
        super().__init__()
        self.value_hidden = tf.keras.layers.Dense(hidden_size, activation="relu")
        self.value = tf.keras.layers.Dense(1)
        self.advantage_hidden = tf.keras.layers.Dense(hidden_size, activation="relu")
        self.advantage = tf.keras.layers.Dense(num_actions)

    def call(self, features: tf.Tensor) -> tf.Tensor:
        value = self.value(self.value_hidden(features))
        advantage = self.advantage(self.advantage_hidden(features))
        return value + advantage - tf.reduce_mean(advantage, axis=-1, keepdims=True)


class DuelingQNetwork(tf.keras.Model):
    """Encoder + dueling head: observations (and recurrent state) -> Q-values over `num_actions`."""

    def __init__(self, spec: EnvSpec, config: NetworkConfig, num_actions: int, head_hidden_size: int):
        super().__init__()
        self.encoder = Encoder(spec, config)
        self.head = DuelingHead(num_actions, head_hidden_size)

    def initial_state(self, batch_size: int | tf.Tensor) -> State:
        return self.encoder.initial_state(batch_size)

    def step(self, observation, done, prev_action, reward, state: State) -> tuple[tf.Tensor, State]:
        """One step for N rows (arguments as `Encoder.step`) -> Q-values [N, A] and the new state."""
        features, state = self.encoder.step(observation, done, prev_action, reward, state)
        return self.head(features), state

    def advance(self, observation, done, prev_action, reward, state: State) -> State:
        """The state after running over T time-major steps (arguments as `Encoder.unroll`); for burn-in."""
        if not self.encoder.state_specs:
            return state
        for t in range(observation.shape[0]):  # T is static inside a traced train step
            _, state = self.encoder.step(observation[t], done[t], prev_action[t], reward[t], state)
        return state

    def unroll(self, observation, done, prev_action, reward, state: State) -> tf.Tensor:
        """Q-values [T, B, A] over a time-major unroll (arguments as `Encoder.unroll`)."""
        return self.head(self.encoder.unroll(observation, done, prev_action, reward, state))
