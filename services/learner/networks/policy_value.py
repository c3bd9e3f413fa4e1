"""`PolicyValueNetwork`: an encoder with a policy head and a state-value head."""

from __future__ import annotations

import tensorflow as tf

from seedrl.common.spaces import EnvSpec
from seedrl.spec.network import NetworkConfig
from seedrl.learner.networks.encoder import Encoder, State


class PolicyValueNetwork(tf.keras.Model):
    """Policy parameters and state value from an `Encoder`'s features.

    Args:
      spec: the environment's spec (observation shape and action space).
      config: the network.
      policy_size: P, raw policy outputs (logits for discrete actions; distribution
        parameters for continuous ones, interpreted by the agent).
    """

    def __init__(self, spec: EnvSpec, config: NetworkConfig, policy_size: int):
        super().__init__()
        self.encoder = Encoder(spec, config)
        # Small initial outputs keep the first policy close to uniform (CleanRL's layer_init).
        self.policy_head = tf.keras.layers.Dense(policy_size, kernel_initializer=tf.keras.initializers.Orthogonal(0.01))
        self.value_head = tf.keras.layers.Dense(1, kernel_initializer=tf.keras.initializers.Orthogonal(1.0))

    def initial_state(self, batch_size: int | tf.Tensor) -> State:
        return self.encoder.initial_state(batch_size)

    def _heads(self, x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return self.policy_head(x), tf.squeeze(self.value_head(x), axis=-1)

    def step(
        self, observation: tf.Tensor, done: tf.Tensor, prev_action: tf.Tensor, reward: tf.Tensor, state: State
    ) -> tuple[tf.Tensor, tf.Tensor, State]:
        """One step for N rows (arguments as `Encoder.step`): policy params [N, P], value [N], new state."""
        x, state = self.encoder.step(observation, done, prev_action, reward, state)
        policy, value = self._heads(x)
        return policy, value, state

    def unroll(
        self, observation: tf.Tensor, done: tf.Tensor, prev_action: tf.Tensor, reward: tf.Tensor, state: State
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """A time-major unroll (arguments as `Encoder.unroll`): policy params [T, B, P], values [T, B]."""
        return self._heads(self.encoder.unroll(observation, done, prev_action, reward, state))
