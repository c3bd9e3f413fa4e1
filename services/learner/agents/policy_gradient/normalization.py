"""Running mean and variance of a stream of tensors, for observation and value normalisation."""

from __future__ import annotations

import tensorflow as tf


class RunningStatistics(tf.Module):
    """Mean and variance of every sample seen so far, per element of `shape`, updated in batches.

    Batches merge by Chan et al.'s parallel update, so the statistics equal those of all samples
    at once. Before any update the mean is 0 and the variance 1 (normalisation is the identity).

    Args:
      shape: shape of one sample ([] for scalars such as value targets).
      min_std: floor of the standard deviation used to normalise.
      clip: normalised values are clipped to [-clip, clip]; None leaves them.
    """

    def __init__(self, shape: tuple[int, ...], min_std: float = 1e-4, clip: float | None = None, name: str | None = None):
        super().__init__(name=name)
        self._shape = tuple(shape)
        self._min_std = min_std
        self._clip = clip
        self.count = tf.Variable(0.0, dtype=tf.float64, trainable=False, name="count")
        self.mean = tf.Variable(tf.zeros(shape, tf.float64), trainable=False, name="mean")
        self.m2 = tf.Variable(tf.zeros(shape, tf.float64), trainable=False, name="m2")

    def update(self, samples: tf.Tensor) -> None:
        """Add samples [..., *shape] (any leading dimensions)."""
        samples = tf.reshape(tf.cast(samples, tf.float64), (-1, *self._shape))
        batch_count = tf.cast(tf.shape(samples)[0], tf.float64)
        batch_mean = tf.reduce_mean(samples, axis=0)
        batch_m2 = tf.reduce_sum(tf.square(samples - batch_mean), axis=0)
        total = self.count + batch_count
        delta = batch_mean - self.mean
        self.mean.assign_add(delta * batch_count / total)
        self.m2.assign_add(batch_m2 + tf.square(delta) * self.count * batch_count / total)
        self.count.assign(total)

    def std(self) -> tf.Tensor:
        """Standard deviation [*shape] float32 (1 before any sample), floored at min_std."""
        variance = tf.where(self.count > 1.0, self.m2 / tf.maximum(self.count, 1.0), tf.ones_like(self.m2))
        return tf.cast(tf.maximum(tf.sqrt(variance), self._min_std), tf.float32)

    def normalize(self, x: tf.Tensor) -> tf.Tensor:
        """(x - mean) / std, float32, clipped when `clip` is set; x is [..., *shape]."""
        normalized = (tf.cast(x, tf.float32) - tf.cast(self.mean, tf.float32)) / self.std()
        return normalized if self._clip is None else tf.clip_by_value(normalized, -self._clip, self._clip)

    def denormalize(self, x: tf.Tensor) -> tf.Tensor:
        """mean + std * x: the inverse of `normalize` (without clipping)."""
        return tf.cast(self.mean, tf.float32) + self.std() * x

    def assign(self, other: "RunningStatistics") -> None:
        """Take `other`'s statistics."""
        self.count.assign(other.count)
        self.mean.assign(other.mean)
        self.m2.assign(other.m2)
