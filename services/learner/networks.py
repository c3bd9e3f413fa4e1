"""Policy-value networks: an MLP torso with an optional LSTM core.

Feed-forward: obs -> MLP -> (policy logits, value).
Recurrent:    obs -> MLP -> LSTM (state reset where an episode starts) -> heads.
"""

from __future__ import annotations

import tensorflow as tf

State = tuple[tf.Tensor, ...]


class PolicyValueNetwork(tf.keras.Model):
    """Discrete-action policy and state value from flat observations.

    Args:
      num_actions: A, the size of the discrete action space.
      hidden_sizes: widths of the ReLU MLP torso.
      lstm_size: LSTM units after the torso; 0 for a feed-forward network.
    """

    def __init__(self, num_actions: int, hidden_sizes: tuple[int, ...] = (64, 64), lstm_size: int = 0):
        super().__init__()
        self.num_actions = num_actions
        self.lstm_size = lstm_size
        self.torso = [
            tf.keras.layers.Dense(width, activation="relu", kernel_initializer=tf.keras.initializers.Orthogonal(2**0.5))
            for width in hidden_sizes
        ]
        self.core = tf.keras.layers.LSTMCell(lstm_size) if lstm_size else None
        # Small initial logits keep the first policy close to uniform (CleanRL's layer_init).
        self.policy_head = tf.keras.layers.Dense(num_actions, kernel_initializer=tf.keras.initializers.Orthogonal(0.01))
        self.value_head = tf.keras.layers.Dense(1, kernel_initializer=tf.keras.initializers.Orthogonal(1.0))

    def initial_state(self, batch_size: int | tf.Tensor) -> State:
        """Zero LSTM state (h, c), each [B, lstm_size]; () without a core."""
        if not self.core:
            return ()
        zeros = tf.zeros([batch_size, self.lstm_size], tf.float32)
        return (zeros, zeros)

    def _torso(self, observations: tf.Tensor) -> tf.Tensor:
        x = tf.reshape(tf.cast(observations, tf.float32), [tf.shape(observations)[0], -1])
        for layer in self.torso:
            x = layer(x)
        return x

    def _heads(self, x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return self.policy_head(x), tf.squeeze(self.value_head(x), axis=-1)

    def _core_step(self, x: tf.Tensor, done: tf.Tensor, state: State) -> tuple[tf.Tensor, State]:
        keep = 1.0 - tf.cast(done, tf.float32)[:, None]
        output, new_state = self.core(x, [s * keep for s in state])
        return output, tuple(new_state)

    def step(self, observations: tf.Tensor, done: tf.Tensor, state: State) -> tuple[tf.Tensor, tf.Tensor, State]:
        """One step for N rows.

        Args:
          observations: [N, *obs_shape].
          done: [N] bool, a new episode starts at this observation (state is reset).
          state: recurrent state, each [N, lstm_size].

        Returns:
          logits [N, A], value [N], new state.
        """
        x = self._torso(observations)
        if self.core:
            x, state = self._core_step(x, done, state)
        logits, value = self._heads(x)
        return logits, value, state

    def unroll(self, observations: tf.Tensor, done: tf.Tensor, state: State) -> tuple[tf.Tensor, tf.Tensor]:
        """Run over a time-major unroll.

        Args:
          observations: [T, B, *obs_shape].
          done: [T, B] bool, a new episode starts at step t.
          state: recurrent state at step 0, each [B, lstm_size].

        Returns:
          logits [T, B, A] and values [T, B].
        """
        t, b = tf.shape(observations)[0], tf.shape(observations)[1]
        x = self._torso(tf.reshape(observations, tf.concat([[t * b], tf.shape(observations)[2:]], 0)))
        x = tf.reshape(x, [t, b, -1])
        if self.core:
            outputs = []
            for step in range(observations.shape[0]):  # T is static inside a traced train step
                output, state = self._core_step(x[step], done[step], state)
                outputs.append(output)
            x = tf.stack(outputs)
        logits, values = self._heads(x)
        return logits, values
