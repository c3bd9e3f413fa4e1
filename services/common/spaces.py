"""Typed env specs: what an environment's observations and actions look like.

An `EnvSpec` travels in the actor's handshake; the learner compares it with the
experiment's own and refuses a stream whose spec differs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from seedrl.common import tensors
from seedrl.v1 import learner_pb2 as pb


@dataclass(frozen=True, eq=False)
class BoxSpace:
    """A box of `shape` and `dtype` bounded elementwise by `low` and `high`."""

    shape: tuple[int, ...]
    dtype: str
    low: np.ndarray = field(repr=False)
    high: np.ndarray = field(repr=False)

    def __repr__(self) -> str:
        return (
            f"Box(shape={self.shape}, dtype={self.dtype}, "
            f"low={float(np.min(self.low)):g}, high={float(np.max(self.high)):g})"
        )

    def differences(self, other: "Space") -> list[str]:
        if not isinstance(other, BoxSpace):
            return [f"expected {self!r}, got {other!r}"]
        found = []
        if self.shape != other.shape:
            found.append(f"shape {other.shape} != {self.shape}")
        if self.dtype != other.dtype:
            found.append(f"dtype {other.dtype} != {self.dtype}")
        if not found:
            for name, ours, theirs in (("low", self.low, other.low), ("high", self.high, other.high)):
                ours, theirs = np.broadcast_to(ours, self.shape), np.broadcast_to(theirs, self.shape)
                differs = ~((ours == theirs) | (np.isnan(ours) & np.isnan(theirs)))
                if differs.any():
                    index = tuple(int(i) for i in np.argwhere(differs)[0])
                    found.append(f"{name}{list(index)} {theirs[index]} != {ours[index]}")
        return found


@dataclass(frozen=True)
class DiscreteSpace:
    """Integers start, start+1, ..., start+n-1."""

    n: int
    start: int = 0

    def __repr__(self) -> str:
        return f"Discrete(n={self.n})" if self.start == 0 else f"Discrete(n={self.n}, start={self.start})"

    def differences(self, other: "Space") -> list[str]:
        if self != other:
            return [f"expected {self!r}, got {other!r}"]
        return []


Space = BoxSpace | DiscreteSpace


@dataclass(frozen=True)
class EnvSpec:
    """An environment as the learner sees it: its id, spaces and frame skip."""

    env_id: str
    observation_space: Space
    action_space: Space
    frames_per_step: int = 1

    def differences(self, other: "EnvSpec") -> list[str]:
        """Human-readable reasons why `other` cannot join an experiment run with `self`."""
        found = []
        if other.env_id != self.env_id:
            found.append(f"env_id {other.env_id!r} != {self.env_id!r}")
        found += [f"observation_space: {d}" for d in self.observation_space.differences(other.observation_space)]
        found += [f"action_space: {d}" for d in self.action_space.differences(other.action_space)]
        if other.frames_per_step != self.frames_per_step:
            found.append(f"frames_per_step {other.frames_per_step} != {self.frames_per_step}")
        return found

    @property
    def observation_shape(self) -> tuple[int, ...]:
        return () if isinstance(self.observation_space, DiscreteSpace) else self.observation_space.shape

    @property
    def observation_dtype(self) -> np.dtype:
        if isinstance(self.observation_space, DiscreteSpace):
            return np.dtype(np.int64)
        return np.dtype(self.observation_space.dtype)

    @property
    def action_shape(self) -> tuple[int, ...]:
        return () if isinstance(self.action_space, DiscreteSpace) else self.action_space.shape

    @property
    def action_dtype(self) -> np.dtype:
        if isinstance(self.action_space, DiscreteSpace):
            return np.dtype(np.int32)
        return np.dtype(self.action_space.dtype)


def space_to_proto(space: Space) -> pb.Space:
    if isinstance(space, DiscreteSpace):
        return pb.Space(discrete=pb.DiscreteSpace(n=space.n, start=space.start))
    return pb.Space(
        box=pb.BoxSpace(
            shape=space.shape, dtype=space.dtype,
            low=tensors.encode(space.low), high=tensors.encode(space.high),
        )
    )


def space_from_proto(message: pb.Space) -> Space:
    kind = message.WhichOneof("kind")
    if kind == "discrete":
        return DiscreteSpace(n=message.discrete.n, start=message.discrete.start)
    if kind == "box":
        box = message.box
        return BoxSpace(
            shape=tuple(box.shape), dtype=box.dtype,
            low=tensors.decode(box.low), high=tensors.decode(box.high),
        )
    raise ValueError("space has neither box nor discrete set")


def spec_to_proto(spec: EnvSpec) -> pb.EnvSpec:
    return pb.EnvSpec(
        env_id=spec.env_id,
        observation_space=space_to_proto(spec.observation_space),
        action_space=space_to_proto(spec.action_space),
        frames_per_step=spec.frames_per_step,
    )


def spec_from_proto(message: pb.EnvSpec) -> EnvSpec:
    """Raises ValueError (or TensorDecodeError) when the message is incomplete or malformed."""
    if not message.HasField("observation_space") or not message.HasField("action_space"):
        raise ValueError("env spec lacks an observation or action space")
    return EnvSpec(
        env_id=message.env_id,
        observation_space=space_from_proto(message.observation_space),
        action_space=space_from_proto(message.action_space),
        frames_per_step=message.frames_per_step or 1,
    )
