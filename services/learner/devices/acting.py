"""Where inference runs: on the training device with the live weights, or on devices of its own.

`LiveActing` is SEED's single-device learner: inference reads the variables training is
updating, so the policy is never behind. `InferenceCopies` serves inference from copies of the
agent on separate devices, used round-robin, one batch at a time each; the trainer copies the
trained weights to every copy after each `refresh_steps` train steps. A copy is locked
while it is being refreshed, so a batch never sees half-copied weights; the other copies
keep serving. Each `act` returns the policy version (learner steps) of the weights it used,
which unrolls carry and the policy-lag metric measures.
"""

from __future__ import annotations

import itertools
import threading
import time
from typing import Callable, Protocol

import numpy as np
import tensorflow as tf

from seedrl.common import metrics as m
from seedrl.learner.agents.base import ActOutput, Agent, StepInputs
from seedrl.learner.graphs import graph_function


class Acting(Protocol):
    """Inference for the pipeline, and the trainer's hook to keep it current."""

    def act(self, inputs: StepInputs, state: tuple[np.ndarray, ...]) -> tuple[ActOutput, int]:
        """Batched inference on N rows (as `Agent.act`) and the policy version that produced it."""

    def refresh(self, steps: int) -> None:
        """Called by the trainer after each train step; `steps` is the trained agent's step count."""


class LiveActing:
    """Inference by the trained agent itself, with its live weights.

    The version is the agent's step count when it was built, then the one the trainer last reported
    (`refresh`), or what `version()` returns when given: reading the agent's step variable for every
    batch cost an eighth of the inference thread. The weights are live, so it may lag the weights by
    the train step in progress.
    """

    def __init__(self, agent: Agent, version: Callable[[], int] | None = None):
        self._agent = agent
        self._version = version
        self._steps = agent.steps

    def act(self, inputs: StepInputs, state: tuple[np.ndarray, ...]) -> tuple[ActOutput, int]:
        version = self._version() if self._version is not None else self._steps
        return self._agent.act(inputs, state), version

    def refresh(self, steps: int) -> None:
        self._steps = steps  # the weights are live; only the version moves


class InferenceCopies:
    """Copies of `trained`, built by `build` on each of `devices`, refreshed every `refresh_steps` train steps.

    `build` must create an agent with the same `acting_variables()` layout as `trained`; it runs
    under `tf.device(device)` and outside any distribution strategy.
    """

    def __init__(
        self, trained: Agent, build: Callable[[], Agent], devices: tuple[str, ...], refresh_steps: int,
        metrics: m.Metrics,
    ):
        self._trained = trained
        self._devices = devices
        self._refresh_steps = refresh_steps
        self._copies: list[Agent] = []
        for device in devices:
            with tf.device(device):
                self._copies.append(build())
        sources = trained.acting_variables()
        self._copy_fns = [graph_function(_assigner(copy.acting_variables(), sources)) for copy in self._copies]
        self._locks = [threading.Lock() for _ in devices]
        self._versions = [0] * len(devices)
        self._refreshed_at = -refresh_steps
        self._turn = itertools.count()
        self._refresh_duration = metrics(m.WEIGHT_REFRESH_DURATION)
        self.refresh(trained.steps)

    @property
    def versions(self) -> list[int]:
        """The policy version (learner steps) each copy holds."""
        return list(self._versions)

    def act(self, inputs: StepInputs, state: tuple[np.ndarray, ...]) -> tuple[ActOutput, int]:
        index = next(self._turn) % len(self._copies)
        with self._locks[index], tf.device(self._devices[index]):
            return self._copies[index].act(inputs, state), self._versions[index]

    def refresh(self, steps: int) -> None:
        if steps - self._refreshed_at < self._refresh_steps:
            return
        for index, copy_fn in enumerate(self._copy_fns):
            started = time.perf_counter()
            with self._locks[index]:
                copy_fn()
                self._versions[index] = steps
            self._refresh_duration.observe(time.perf_counter() - started)
        self._refreshed_at = steps


def _assigner(targets: list[tf.Variable], sources: list[tf.Variable]) -> Callable[[], None]:
    if len(targets) != len(sources):
        raise ValueError(f"an inference copy has {len(targets)} acting variables, the trained agent {len(sources)}")

    def assign() -> None:
        for target, source in zip(targets, sources):
            target.assign(source)

    return assign
