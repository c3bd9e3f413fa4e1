"""Validation of actor messages: a StepBatch either decodes into a StepRequest or is refused.

A refused message ends only its own stream (INVALID_ARGUMENT); the learner and the
other actors carry on. Values that are well-formed but out of range are decided per
field (docs/architecture.md, "Protocol"):

- rewards: non-finite ones are refused; finite ones beyond +-REWARD_LIMIT are clipped to it;
- observations (and final observations): non-finite floats are refused; values outside the
  observation space's declared bounds, or beyond +-OBSERVATION_LIMIT where those are wider,
  are clipped to them;
- terminated, truncated: bytes other than 0 and 1 are refused.

Clipped values are counted (`count_clipped(field, n)`), so the learner's training math
(float32) stays finite whatever an actor sends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from seedrl.common import tensors
from seedrl.common.spaces import BoxSpace, DiscreteSpace, EnvSpec
from seedrl.v1 import learner_pb2 as pb

# Why the learner refuses a message: the bounded values of seedrl_rejected_messages_total's `reason`.
# `idle_timeout` and `hello_timeout` count streams ended because their actor stopped sending (or never
# said Hello); `not_owner` a Hello for an actor_id whose open stream belongs to another peer;
# `stream_share` a Hello for more envs than one stream of the experiment may hold.
REJECTION_REASONS = (
    "actor_id", "bad_tensor", "bool_value", "dtype", "env_spec", "final_indices", "hello_timeout", "idle_timeout",
    "missing_field", "not_owner", "num_envs", "observations", "rewards", "run_id", "shape", "slots_exhausted",
    "stream_share", "undecodable", "unexpected_message", "unknown_actor",
)
# The fields whose out-of-range values are clipped: the values of seedrl_clipped_values_total's `field`.
CLIPPED_FIELDS = ("observations", "rewards")

# A step's reward is clipped to +-REWARD_LIMIT: returns over the longest episodes (1e5 steps) and their
# squares in the losses stay far inside float32's range (3.4e38).
REWARD_LIMIT = 1e6
# Observations are clipped to their space's bounds, and to +-OBSERVATION_LIMIT where the bounds are wider
# (infinite, say): networks take them as float32, where a product of 3e38 with a weight overflows.
OBSERVATION_LIMIT = 1e6


class ProtocolError(ValueError):
    """A message breaks the protocol. `reason` is one of REJECTION_REASONS."""

    def __init__(self, reason: str, detail: str):
        if reason not in REJECTION_REASONS:
            raise ValueError(f"unknown rejection reason {reason!r}")
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


@dataclass
class StepRequest:
    """One validated StepBatch of a stream with K envs.

    Attributes:
      slots: [K] int32 env slots leased to the stream.
      rewards: [K] float32, finite, within +-REWARD_LIMIT. terminated, truncated: [K] bool.
      observations: [K, *obs_shape] within the observation bounds.
      final_indices: [M] int32 ascending indices of the truncated envs.
      final_observations: [M, *obs_shape] their last observation.
    """

    slots: np.ndarray
    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    observations: np.ndarray
    final_indices: np.ndarray
    final_observations: np.ndarray


def _field(message: pb.StepBatch, name: str, dtype: np.dtype, shape: tuple[int, ...], *, optional: bool = False) -> np.ndarray:
    if not message.HasField(name):
        if optional:
            return np.zeros(shape, dtype)
        raise ProtocolError("missing_field", f"{name} is missing")
    try:
        array = tensors.decode(getattr(message, name))
    except tensors.TensorDecodeError as error:
        raise ProtocolError("bad_tensor", f"{name}: {error}") from error
    if array.dtype != dtype:
        raise ProtocolError("dtype", f"{name} must be {dtype.name}, got {array.dtype}")
    if array.shape != shape:
        raise ProtocolError("shape", f"{name} must have shape {shape}, got {array.shape}")
    if dtype == np.bool_ and (array.view(np.uint8) > 1).any():
        raise ProtocolError("bool_value", f"{name} must hold bytes 0 and 1 only")
    return array


@dataclass(frozen=True)
class ObservationBounds:
    """The range an observation's elements are clipped to, from its space; None where its dtype cannot leave it.

    Attributes:
      dtype: the observations' dtype.
      low, high: [*obs_shape] in that dtype, or None (uint8 pixels in [0, 255], bool, ...).
    """

    dtype: np.dtype
    low: np.ndarray | None
    high: np.ndarray | None

    @classmethod
    def of(cls, spec: EnvSpec) -> "ObservationBounds":
        dtype, shape, space = spec.observation_dtype, spec.observation_shape, spec.observation_space
        if dtype == np.bool_:
            return cls(dtype, None, None)
        if isinstance(space, DiscreteSpace):
            low, high = np.full(shape, space.start, np.float64), np.full(shape, space.start + space.n - 1, np.float64)
        else:
            assert isinstance(space, BoxSpace)
            low = np.broadcast_to(np.asarray(space.low, np.float64), shape)
            high = np.broadcast_to(np.asarray(space.high, np.float64), shape)
        info = np.finfo(dtype) if np.issubdtype(dtype, np.floating) else np.iinfo(dtype)
        limit = min(OBSERVATION_LIMIT, float(info.max))
        low = np.clip(np.nan_to_num(low, nan=-limit), max(-limit, float(info.min)), limit)
        high = np.clip(np.nan_to_num(high, nan=limit), max(-limit, float(info.min)), limit)
        if (low <= info.min).all() and (high >= info.max).all():
            return cls(dtype, None, None)
        return cls(dtype, low.astype(dtype), high.astype(dtype))

    def check(self, name: str, values: np.ndarray) -> tuple[np.ndarray, int]:
        """`values` [N, *obs_shape] within bounds (a clipped copy if needed) and how many elements were clipped.

        Raises:
          ProtocolError: a floating-point value is NaN or infinite.
        """
        if np.issubdtype(self.dtype, np.floating) and not np.isfinite(values).all():
            raise ProtocolError("observations", f"{name} must be finite")
        if self.low is None or not len(values):
            return values, 0
        outside = int(np.count_nonzero((values < self.low) | (values > self.high)))
        return (np.clip(values, self.low, self.high) if outside else values), outside


class StepDecoder:
    """Decodes and checks the StepBatches of one experiment's streams; `count_clipped(field, n)` hears of clipping."""

    def __init__(self, spec: EnvSpec, count_clipped: Callable[[str, int], None] = lambda field, count: None):
        self._obs_shape = spec.observation_shape
        self._bounds = ObservationBounds.of(spec)
        self._count_clipped = count_clipped

    def decode(self, message: pb.StepBatch, run_id: int, slots: np.ndarray) -> StepRequest:
        """Decode and check a StepBatch from a stream that leased `slots` under `run_id`.

        Raises:
          ProtocolError: wrong run id, missing field, bad dtype or shape, non-finite
            rewards or observations, bool bytes other than 0 and 1, or final
            observations that do not match the truncated envs.
        """
        if message.run_id != run_id:
            raise ProtocolError("run_id", f"run_id {message.run_id} does not match the stream's {run_id}")
        k, obs_shape, obs_dtype = len(slots), self._obs_shape, self._bounds.dtype
        rewards = self._rewards(_field(message, "rewards", np.dtype(np.float32), (k,)))
        terminated = _field(message, "terminated", np.dtype(bool), (k,))
        truncated = _field(message, "truncated", np.dtype(bool), (k,))
        observations = self._observations("observations", _field(message, "observations", obs_dtype, (k, *obs_shape)))
        m = len(message.final_indices.shape) and message.final_indices.shape[0]
        final_indices = _field(message, "final_indices", np.dtype(np.int32), (m,), optional=True)
        final_observations = self._observations(
            "final_observations", _field(message, "final_observations", obs_dtype, (m, *obs_shape), optional=True)
        )
        if not np.array_equal(final_indices, np.flatnonzero(truncated & ~terminated)):
            raise ProtocolError("final_indices", "final_indices must list exactly the truncated envs, ascending")
        return StepRequest(slots, rewards, terminated, truncated, observations, final_indices, final_observations)

    def _rewards(self, rewards: np.ndarray) -> np.ndarray:
        if not np.isfinite(rewards).all():
            raise ProtocolError("rewards", "rewards must be finite")
        beyond = int(np.count_nonzero(np.abs(rewards) > REWARD_LIMIT))
        if beyond:
            self._count_clipped("rewards", beyond)
            return np.clip(rewards, -REWARD_LIMIT, REWARD_LIMIT)
        return rewards

    def _observations(self, name: str, values: np.ndarray) -> np.ndarray:
        values, clipped = self._bounds.check(name, values)
        if clipped:
            self._count_clipped("observations", clipped)
        return values
