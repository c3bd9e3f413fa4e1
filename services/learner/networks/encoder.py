"""`Encoder`: torso (+ previous action and reward) (+ LSTM core), observations -> features."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from seedrl.common.spaces import DiscreteSpace, EnvSpec
from seedrl.learner.agents.base import FieldSpec
from seedrl.learner.devices.precision import encoder_layers
from seedrl.spec.network import NetworkConfig
from seedrl.learner.networks.torsos import build_torso

State = tuple[tf.Tensor, ...]


def _merge(x: tf.Tensor) -> tf.Tensor:
    """[T, B, ...] -> [T*B, ...]."""
    return tf.reshape(x, tf.concat([[-1], tf.shape(x)[2:]], 0))


def zero_step(spec: EnvSpec) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
    """One row of zero inputs for `step` (observation, done, prev_action, reward): builds a network's variables."""
    return (
        tf.zeros([1, *spec.observation_shape], tf.as_dtype(spec.observation_dtype)), tf.zeros([1], tf.bool),
        tf.zeros([1, *spec.action_shape], tf.as_dtype(spec.action_dtype)), tf.zeros([1], tf.float32),
    )


class Encoder(tf.keras.Model):
    """Features of observations for the heads of an agent.

    Feed-forward: obs -> torso [-> concat(prev action, reward)].
    Recurrent:    ... -> LSTM (state reset where an episode starts).
    The previous action is one-hot for discrete actions and flattened for boxes; it and the
    reward (clipped to [-1, 1]) are zeroed where an episode starts. Built under
    `seedrl.learner.devices.precision.mixed_precision`, the torso and core compute in bfloat16
    or float16; features and state are float32 either way.

    Attributes:
      output_size: F, the feature width.
      state_specs: the recurrent state per env, (h, c) each [lstm_size] float32; () without a core.
    """

    def __init__(self, spec: EnvSpec, config: NetworkConfig):
        super().__init__()
        with encoder_layers():
            self.torso = build_torso(config, spec.observation_shape)
            self.core = tf.keras.layers.LSTMCell(config.lstm_size) if config.lstm_size else None
        self.lstm_size = config.lstm_size
        self.prev_action_reward = config.prev_action_reward
        self._num_actions = spec.action_space.n if isinstance(spec.action_space, DiscreteSpace) else None
        action_size = self._num_actions or int(np.prod(spec.action_shape))
        extra = action_size + 1 if config.prev_action_reward else 0
        self.output_size = config.lstm_size or self.torso.output_size + extra
        state = FieldSpec((config.lstm_size,), np.dtype(np.float32))
        self.state_specs: tuple[FieldSpec, ...] = (state, state) if config.lstm_size else ()

    def initial_state(self, batch_size: int | tf.Tensor) -> State:
        """Zero LSTM state (h, c), each [B, lstm_size]; () without a core."""
        if not self.core:
            return ()
        zeros = tf.zeros([batch_size, self.lstm_size], tf.float32)
        return (zeros, zeros)

    def _inputs(self, observation: tf.Tensor, done: tf.Tensor, prev_action: tf.Tensor, reward: tf.Tensor) -> tf.Tensor:
        """Torso features [N, F_torso], plus the previous action and reward when configured."""
        x = tf.cast(self.torso(observation), tf.float32)
        if not self.prev_action_reward:
            return x
        keep = 1.0 - tf.cast(done, tf.float32)[:, None]
        if self._num_actions:
            action = tf.one_hot(tf.cast(prev_action, tf.int32), self._num_actions)
        else:
            action = tf.reshape(tf.cast(prev_action, tf.float32), [tf.shape(prev_action)[0], -1])
        reward = tf.clip_by_value(tf.cast(reward, tf.float32), -1.0, 1.0)[:, None]
        return tf.concat([x, tf.concat([action, reward], axis=-1) * keep], axis=-1)

    def _core_step(self, x: tf.Tensor, done: tf.Tensor, state: State) -> tuple[tf.Tensor, State]:
        keep = 1.0 - tf.cast(done, tf.float32)[:, None]
        compute = self.core.compute_dtype
        output, new_state = self.core(tf.cast(x, compute), [tf.cast(s * keep, compute) for s in state])
        return tf.cast(output, tf.float32), tuple(tf.cast(s, tf.float32) for s in new_state)

    def step(
        self, observation: tf.Tensor, done: tf.Tensor, prev_action: tf.Tensor, reward: tf.Tensor, state: State
    ) -> tuple[tf.Tensor, State]:
        """One step for N rows.

        Args:
          observation: [N, *obs_shape].
          done: [N] bool, a new episode starts at this row (state, action and reward are reset).
          prev_action: [N, *action_shape], the action before this row.
          reward: [N] float32, the reward of `prev_action`.
          state: recurrent state, each [N, lstm_size].

        Returns:
          features [N, F] and the new state.
        """
        x = self._inputs(observation, done, prev_action, reward)
        if self.core:
            x, state = self._core_step(x, done, state)
        return x, state

    def unroll(
        self, observation: tf.Tensor, done: tf.Tensor, prev_action: tf.Tensor, reward: tf.Tensor, state: State
    ) -> tf.Tensor:
        """Run over a time-major unroll: the arguments of `step` with a leading [T] (state at step 0).

        Returns:
          features [T, B, F].
        """
        t, b = tf.shape(observation)[0], tf.shape(observation)[1]
        x = self._inputs(_merge(observation), _merge(done), _merge(prev_action), _merge(reward))
        x = tf.reshape(x, [t, b, x.shape[-1]])
        if self.core:
            outputs = []
            for step in range(observation.shape[0]):  # T is static inside a traced train step
                output, state = self._core_step(x[step], done[step], state)
                outputs.append(output)
            x = tf.stack(outputs)
        return x
