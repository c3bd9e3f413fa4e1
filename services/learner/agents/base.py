"""The interface every agent implements for the learner.

The learner drives an agent like this:

    out = agent.act(StepInputs(...), state)            # batched inference, every step
    ... unrolls of out.extras and the env outputs are assembled per slot ...
    metrics = agent.train(batch)                       # one gradient step, training thread
"""

from __future__ import annotations

import abc
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from seedrl.spec.scaling import AUTO, BatchRule, auto_batch_size

if TYPE_CHECKING:
    import tensorflow as tf


@dataclass(frozen=True)
class FieldSpec:
    """Shape (without batch or time dimensions) and dtype of one per-step field."""

    shape: tuple[int, ...]
    dtype: np.dtype


class StepInputs(NamedTuple):
    """What inference gets for N rows.

    Attributes:
      observation: [N, *obs_shape] in the environment's observation dtype.
      done: [N] bool, a new episode starts at this row (recurrent state is reset).
      prev_action: [N, *action_shape] the action sent on the row's previous step.
      reward: [N] float32, the reward of `prev_action` (0 at an episode's start).
      slot: [N] int32, the env slot of each row (for per-slot behaviour such as exploration).
    """

    observation: np.ndarray
    done: np.ndarray
    prev_action: np.ndarray
    reward: np.ndarray
    slot: np.ndarray


class ActOutput(NamedTuple):
    """What inference returns for N rows.

    Attributes:
      action: [N, *action_shape] actions to send to the environments.
      greedy_action: [N, *action_shape] the policy's most likely actions (evaluation envs).
      value: [N] float32 state-value estimates (bootstrap values of truncated episodes).
      extras: per-step fields the loss needs, each [N, *spec.shape] (e.g. behaviour logits).
      state: new recurrent state, each [N, *spec.shape]; () for feed-forward agents.
    """

    action: np.ndarray
    greedy_action: np.ndarray
    value: np.ndarray
    extras: dict[str, np.ndarray]
    state: tuple[np.ndarray, ...]


@dataclass
class TrainingBatch:
    """B unrolls of T+1 steps, time-major.

    Attributes:
      steps: per-step fields, each [T+1, B, *shape]: observation, reward, terminated,
        truncated, truncation_value, prev_action (the action before the step), action and
        the agent's extras.
      initial_state: recurrent state at each unroll's first step, each [B, *shape].
    """

    steps: dict[str, np.ndarray]
    initial_state: tuple[np.ndarray, ...]


class Agent(abc.ABC):
    """A learning agent: batched inference on the learner plus one train step."""

    name: str  # the `agent` of the experiment spec, e.g. "vtrace"
    _config: Any  # the agent's hyperparameters (a pydantic model with batch_size and unroll_length)

    @property
    @abc.abstractmethod
    def state_specs(self) -> tuple[FieldSpec, ...]:
        """Per-env recurrent state kept by the learner between steps."""

    @property
    @abc.abstractmethod
    def extras_specs(self) -> dict[str, FieldSpec]:
        """Per-step outputs of `act` that go into unrolls."""

    @property
    def batch_size(self) -> int | BatchRule:
        """Unrolls per train step: the agent config's `batch_size`, or for `auto` the rule that sizes it from the
        env slots leased for training (seedrl.spec.scaling), in multiples of `batch_multiple`."""
        if self._config.batch_size != AUTO:
            return self._config.batch_size
        return functools.partial(
            auto_batch_size, slots_per_unroll=self._config.auto_batch_slots, multiple=self.batch_multiple
        )

    @property
    def batch_multiple(self) -> int:
        """What an automatic batch size must be a multiple of (it is split into equal parts)."""
        return 1

    @property
    def unroll_length(self) -> int:
        """T: transitions per unroll (unrolls hold T+1 steps): the agent config's `unroll_length`."""
        return self._config.unroll_length

    @abc.abstractmethod
    def act(self, inputs: StepInputs, state: tuple[np.ndarray, ...]) -> ActOutput:
        """Batched inference on N rows; `state` holds each row's recurrent state, each [N, *spec.shape]."""

    @abc.abstractmethod
    def train(self, batch: TrainingBatch, frames: int) -> dict[str, float]:
        """One gradient step; `frames` drives learning-rate schedules. Returns scalar metrics."""

    @property
    @abc.abstractmethod
    def steps(self) -> int:
        """Gradient steps taken so far (restored from checkpoints)."""

    @abc.abstractmethod
    def acting_variables(self) -> list[tf.Variable]:
        """Every variable `act` reads, in a fixed order.

        A copy of the agent on an inference device takes these values from the trained agent
        (`seedrl.learner.devices.acting`), so two agents built alike list matching variables.
        """

    @abc.abstractmethod
    def checkpoint_items(self) -> dict[str, Any]:
        """Trackable TensorFlow objects to save and restore (network, optimizer, ...)."""

    @abc.abstractmethod
    def serving_module(self) -> tf.Module:
        """The policy for a SavedModel: a module that tracks the variables it needs and has `serve`.

        `serve` is a concrete function with flat named tensor inputs:
          observation: [B, *obs_shape] in the environment's observation dtype.
          done: [B] bool, a new episode starts at this observation (recurrent agents only).
          prev_action: [B, *action_shape], reward: [B] float32 (networks with prev_action_reward only).
          state_0 .. state_{k-1}: [B, *state_specs[i].shape] float32 (recurrent agents only).
        It returns a dict of tensors:
          action: [B, *action_shape] sampled from the policy.
          greedy_action: [B, *action_shape] the most likely action.
          logits: [B, A] policy logits (discrete actions).
          value: [B] float32 state-value estimates.
          state_0 .. state_{k-1}: the new recurrent state, shaped as the inputs (recurrent agents only).
        """
