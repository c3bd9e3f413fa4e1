"""Torsos: observations [N, *obs] -> features [N, F] float32.

Convolutional torsos take channels-last images [N, H, W, C]; uint8 pixels are
scaled to [0, 1]. The MLP flattens whatever it gets.

Layers are held in `tf.keras.Sequential` containers, never in Python lists: a list of
Keras 3 layers is invisible to `tf.train.Checkpoint`, so its weights would not be saved.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from seedrl.spec.network import NetworkConfig

ORTHOGONAL_RELU = 2**0.5  # gain for ReLU layers (CleanRL's layer_init)


def as_float(observations: tf.Tensor) -> tf.Tensor:
    """Observations as float32; uint8 pixels are scaled to [0, 1]."""
    if observations.dtype == tf.uint8:
        return tf.cast(observations, tf.float32) / 255.0
    return tf.cast(observations, tf.float32)


class MLPTorso(tf.keras.layers.Layer):
    """Flatten, then ReLU layers of `hidden_sizes` widths: [N, *obs] -> [N, hidden_sizes[-1]]."""

    def __init__(self, hidden_sizes: tuple[int, ...]):
        super().__init__()
        self.output_size = hidden_sizes[-1]
        self.hidden = tf.keras.Sequential([
            tf.keras.layers.Dense(width, activation="relu", kernel_initializer=tf.keras.initializers.Orthogonal(ORTHOGONAL_RELU))
            for width in hidden_sizes
        ])

    def call(self, observations: tf.Tensor) -> tf.Tensor:
        return self.hidden(tf.reshape(as_float(observations), [tf.shape(observations)[0], -1]))


class ResidualBlock(tf.keras.layers.Layer):
    """x + conv3x3(relu(conv3x3(relu(x)))), channels unchanged."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv_a = tf.keras.layers.Conv2D(channels, 3, padding="same")
        self.conv_b = tf.keras.layers.Conv2D(channels, 3, padding="same")

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return x + self.conv_b(tf.nn.relu(self.conv_a(tf.nn.relu(x))))


class ImpalaResNetTorso(tf.keras.layers.Layer):
    """The IMPALA "deep" network (Espeholt et al. 2018): [N, H, W, C] -> [N, fc_size].

    For each stack of `channels`: conv3x3, max-pool 3x3 stride 2, then `blocks` residual
    blocks; then ReLU, flatten and a ReLU layer of `fc_size` units.
    """

    def __init__(self, fc_size: int = 256, channels: tuple[int, ...] = (16, 32, 32), blocks: int = 2):
        super().__init__()
        self.output_size = fc_size
        layers = []
        for depth in channels:
            layers.append(tf.keras.layers.Conv2D(depth, 3, padding="same"))
            layers.append(tf.keras.layers.MaxPool2D(pool_size=3, strides=2, padding="same"))
            layers.extend(ResidualBlock(depth) for _ in range(blocks))
        self.stacks = tf.keras.Sequential(layers)
        self.fc = tf.keras.layers.Dense(fc_size, activation="relu")

    def call(self, observations: tf.Tensor) -> tf.Tensor:
        x = tf.nn.relu(self.stacks(as_float(observations)))
        return self.fc(tf.reshape(x, [tf.shape(x)[0], int(np.prod(x.shape[1:]))]))


class NatureCNNTorso(tf.keras.layers.Layer):
    """The Nature DQN network (Mnih et al. 2015): [N, H, W, C] -> [N, fc_size].

    Conv 32 8x8 stride 4, conv 64 4x4 stride 2, conv 64 3x3 stride 1 (ReLU each), flatten,
    a ReLU layer of `fc_size` units (512 in the paper).
    """

    def __init__(self, fc_size: int = 512):
        super().__init__()
        self.output_size = fc_size
        init = tf.keras.initializers.Orthogonal(ORTHOGONAL_RELU)
        self.convs = tf.keras.Sequential([
            tf.keras.layers.Conv2D(32, 8, strides=4, activation="relu", kernel_initializer=init),
            tf.keras.layers.Conv2D(64, 4, strides=2, activation="relu", kernel_initializer=init),
            tf.keras.layers.Conv2D(64, 3, strides=1, activation="relu", kernel_initializer=init),
        ])
        self.fc = tf.keras.layers.Dense(fc_size, activation="relu", kernel_initializer=init)

    def call(self, observations: tf.Tensor) -> tf.Tensor:
        x = self.convs(as_float(observations))
        return self.fc(tf.reshape(x, [tf.shape(x)[0], int(np.prod(x.shape[1:]))]))


def build_torso(config: NetworkConfig, observation_shape: tuple[int, ...]) -> tf.keras.layers.Layer:
    """The torso `config` names for observations of `observation_shape`; it has `output_size`.

    Raises ValueError when a convolutional torso is asked for observations that are not images.
    """
    torso = config.resolved_torso(observation_shape)
    if torso == "mlp":
        return MLPTorso(config.hidden_sizes)
    if len(observation_shape) != 3:
        raise ValueError(
            f"network.torso {torso!r} needs image observations [H, W, C]; these have shape {observation_shape}"
        )
    return ImpalaResNetTorso(config.fc_size) if torso == "impala" else NatureCNNTorso(config.fc_size)
