"""Unroll assembly: per-slot sequences of burn_in + T + 1 steps, consecutive unrolls overlapping.

Step t of an unroll holds what arrived with observation t (the reward of the
previous action, terminated, truncated) and what the agent did on it (action,
behaviour logits, ...). Unroll k of a slot covers its steps kT..kT+burn_in+T, so
the last burn_in + 1 steps of one unroll are the first of the next: each transition
is trained on once, the value of the last step bootstraps the unroll, and a
recurrent agent can warm its state up on the burn_in steps before the T it trains
on (R2D2). Without burn-in (burn_in = 0) unrolls hold T+1 steps sharing one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seedrl.learner.agents.base import FieldSpec


@dataclass
class Unrolls:
    """n finished unrolls, batch-major.

    Attributes:
      steps: per-step fields, each [n, T+1, *shape].
      initial_state: recurrent state before step 0 of each unroll, each [n, *shape].
      policy_version: [n] int64 learner steps when step 0 of each unroll was acted on.
    """

    steps: dict[str, np.ndarray]
    initial_state: tuple[np.ndarray, ...]
    policy_version: np.ndarray

    def __len__(self) -> int:
        return len(self.policy_version)

    def select(self, index: slice | np.ndarray) -> "Unrolls":
        return Unrolls(
            {name: field[index] for name, field in self.steps.items()},
            tuple(s[index] for s in self.initial_state),
            self.policy_version[index],
        )

    @staticmethod
    def concatenate(parts: list["Unrolls"]) -> "Unrolls":
        if len(parts) == 1:
            return parts[0]
        return Unrolls(
            {name: np.concatenate([p.steps[name] for p in parts]) for name in parts[0].steps},
            tuple(np.concatenate(c) for c in zip(*(p.initial_state for p in parts))),
            np.concatenate([p.policy_version for p in parts]),
        )


class UnrollAssembler:
    """Writes steps of many slots at once into preallocated [capacity, burn_in+T+1, ...] buffers."""

    def __init__(
        self,
        capacity: int,
        unroll_length: int,
        fields: dict[str, FieldSpec],
        state_specs: tuple[FieldSpec, ...],
        burn_in: int = 0,
    ):
        if not 0 <= burn_in < unroll_length:
            # Step T must be written after the shift that opens an unroll, to capture its state.
            raise ValueError(f"burn_in ({burn_in}) must be in [0, unroll_length={unroll_length})")
        self.unroll_length = unroll_length
        self.length = burn_in + unroll_length + 1  # steps per unroll; the next one starts at step T
        self._buffers = {name: np.zeros((capacity, self.length, *s.shape), s.dtype) for name, s in fields.items()}
        self._position = np.zeros(capacity, np.int64)
        self._start_state = tuple(np.zeros((capacity, *s.shape), s.dtype) for s in state_specs)
        self._next_state = tuple(np.zeros((capacity, *s.shape), s.dtype) for s in state_specs)
        self._start_version = np.zeros(capacity, np.int64)
        self._next_version = np.zeros(capacity, np.int64)

    def reset(self, slots: np.ndarray) -> None:
        """Discard the partial unrolls of `slots` (their next step starts a new unroll)."""
        self._position[slots] = 0

    def append(
        self,
        slots: np.ndarray,
        step: dict[str, np.ndarray],
        state_in: tuple[np.ndarray, ...],
        policy_version: int,
    ) -> Unrolls | None:
        """Add one step for each of `slots`; return the unrolls this step finished, if any.

        Args:
          slots: [N] distinct slot ids.
          step: every field, each [N, *shape].
          state_in: the recurrent state each row was acted on with, each [N, *shape].
          policy_version: learner steps of the policy that acted.
        """
        position = self._position[slots]
        first = position == 0
        if first.any():
            fresh = slots[first]
            for start, component in zip(self._start_state, state_in):
                start[fresh] = component[first]
            self._start_version[fresh] = policy_version
        # Step T opens the next unroll: keep the state it is acted on with.
        opens_next = position == self.unroll_length
        if opens_next.any():
            opening = slots[opens_next]
            for next_state, component in zip(self._next_state, state_in):
                next_state[opening] = component[opens_next]
            self._next_version[opening] = policy_version
        for name, buffer in self._buffers.items():
            buffer[slots, position] = step[name]
        position += 1
        self._position[slots] = position
        finished = slots[position == self.length]
        if not len(finished):
            return None
        unrolls = Unrolls(
            {name: buffer[finished] for name, buffer in self._buffers.items()},
            tuple(start[finished] for start in self._start_state),
            self._start_version[finished],
        )
        # Steps T.. (burn_in + 1 of them) open the next unroll.
        overlap = self.length - self.unroll_length
        for buffer in self._buffers.values():
            buffer[finished, :overlap] = buffer[finished, self.unroll_length:]
        for start, next_state in zip(self._start_state, self._next_state):
            start[finished] = next_state[finished]
        self._start_version[finished] = self._next_version[finished]
        self._position[finished] = overlap
        return unrolls
