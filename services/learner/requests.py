"""Validation of actor messages: a StepBatch either decodes into a StepRequest or is refused.

A refused message ends only its own stream (INVALID_ARGUMENT); the learner and the
other actors carry on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seedrl.common import tensors
from seedrl.common.spaces import EnvSpec
from seedrl.v1 import learner_pb2 as pb


# Why the learner refuses a message: the bounded values of seedrl_rejected_messages_total's `reason`.
# `idle_timeout` counts streams ended because their actor stopped sending (their slots are reclaimed).
REJECTION_REASONS = (
    "actor_id", "bad_tensor", "dtype", "env_spec", "final_indices", "idle_timeout", "missing_field", "num_envs",
    "rewards", "run_id", "shape", "slots_exhausted", "undecodable", "unexpected_message", "unknown_actor",
)


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
      rewards: [K] float32. terminated, truncated: [K] bool.
      observations: [K, *obs_shape].
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


def _field(message: pb.StepBatch, name: str, dtype: str, shape: tuple[int, ...], *, optional: bool = False) -> np.ndarray:
    if not message.HasField(name):
        if optional:
            return np.zeros(shape, dtype)
        raise ProtocolError("missing_field", f"{name} is missing")
    try:
        array = tensors.decode(getattr(message, name))
    except tensors.TensorDecodeError as error:
        raise ProtocolError("bad_tensor", f"{name}: {error}") from error
    if array.dtype != np.dtype(dtype):
        raise ProtocolError("dtype", f"{name} must be {dtype}, got {array.dtype}")
    if array.shape != shape:
        raise ProtocolError("shape", f"{name} must have shape {shape}, got {array.shape}")
    return array


def decode_step(message: pb.StepBatch, run_id: int, slots: np.ndarray, spec: EnvSpec) -> StepRequest:
    """Decode and check a StepBatch from a stream that leased `slots` under `run_id`.

    Raises:
      ProtocolError: wrong run id, missing field, bad dtype or shape, non-finite
        rewards, or final observations that do not match the truncated envs.
    """
    if message.run_id != run_id:
        raise ProtocolError("run_id", f"run_id {message.run_id} does not match the stream's {run_id}")
    k = len(slots)
    obs_shape, obs_dtype = spec.observation_shape, spec.observation_dtype.name
    rewards = _field(message, "rewards", "float32", (k,))
    if not np.isfinite(rewards).all():
        raise ProtocolError("rewards", "rewards must be finite")
    terminated = _field(message, "terminated", "bool", (k,))
    truncated = _field(message, "truncated", "bool", (k,))
    observations = _field(message, "observations", obs_dtype, (k, *obs_shape))
    m = len(message.final_indices.shape) and message.final_indices.shape[0]
    final_indices = _field(message, "final_indices", "int32", (m,), optional=True)
    final_observations = _field(message, "final_observations", obs_dtype, (m, *obs_shape), optional=True)
    if not np.array_equal(final_indices, np.flatnonzero(truncated & ~terminated)):
        raise ProtocolError("final_indices", "final_indices must list exactly the truncated envs, ascending")
    return StepRequest(slots, rewards, terminated, truncated, observations, final_indices, final_observations)
