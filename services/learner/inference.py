"""Batched inference: the learner's per-step hot path.

`InferencePipeline.process` takes the StepRequests of many streams, runs one model
call for all their environments, records the step into each slot's unroll and
returns every stream's actions. Everything is vectorised over the batch; Python
loops run over requests (streams), never over environments.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from seedrl.common import metrics as m
from seedrl.common.spaces import EnvSpec
from seedrl.learner.agents.base import ActOutput, Agent, FieldSpec, StepInputs
from seedrl.learner.devices.acting import Acting
from seedrl.learner.episodes import EpisodeStats
from seedrl.learner.requests import StepRequest
from seedrl.learner.slots import SlotTable
from seedrl.learner.replay.agent import ReplayAgent
from seedrl.learner.unroll_queue import UnrollSink
from seedrl.learner.unrolls import UnrollAssembler

if TYPE_CHECKING:
    from prometheus_client import Counter


def unroll_fields(agent: Agent, spec: EnvSpec) -> dict[str, FieldSpec]:
    """Per-step fields of an unroll: env outputs, the previous and the chosen action, the agent's extras."""
    return {
        "observation": FieldSpec(spec.observation_shape, spec.observation_dtype),
        "reward": FieldSpec((), np.dtype(np.float32)),
        "terminated": FieldSpec((), np.dtype(bool)),
        "truncated": FieldSpec((), np.dtype(bool)),
        "truncation_value": FieldSpec((), np.dtype(np.float32)),
        "prev_action": FieldSpec(spec.action_shape, spec.action_dtype),
        "action": FieldSpec(spec.action_shape, spec.action_dtype),
        **agent.extras_specs,
    }


@dataclass
class _Batch:
    """A batch between its preparation and its completion: N rows, plus E final observations after them."""

    started: float
    counts: list[int]
    slots: np.ndarray  # [N]
    observations: np.ndarray  # [N, *obs_shape]
    rewards: np.ndarray  # [N]
    terminated: np.ndarray  # [N]
    truncated: np.ndarray  # [N]
    final_rows: np.ndarray  # [E] rows whose episode was truncated
    evaluation: np.ndarray | None  # [N] bool; None when no row is an evaluation env
    state_in: tuple[np.ndarray, ...]  # each [N, ...]
    prev_action: np.ndarray  # [N, *action_shape]
    inputs: StepInputs  # N + E rows
    model_state: tuple[np.ndarray, ...]  # each [N + E, ...]


class InferencePipeline:
    """Leases slots and serves batches of steps, on one or more batcher threads.

    `agent` defines the slots' state and the unrolls' fields; `acting` runs the inference
    (`seedrl.learner.devices.acting`: the agent itself, or its copies on inference devices).
    Batches of different streams hold different slots; the slot table and the unrolls are
    touched under one lock, the model call runs outside it, so batches on several inference
    devices overlap. A slot is released only once no batch in flight holds it. `serving` is told
    the number of training slots (evaluation slots excluded) whenever a lease or a release changes it.
    """

    def __init__(
        self,
        agent: Agent,
        spec: EnvSpec,
        capacity: int,
        unroll_queue: UnrollSink,
        stats: EpisodeStats,
        eval_stats: EpisodeStats,
        metrics: m.Metrics,
        acting: Acting,
        collect_unrolls: bool = True,
        serving: Callable[[int], None] | None = None,
    ):
        self._frames_per_step = spec.frames_per_step
        action = FieldSpec(spec.action_shape, spec.action_dtype)
        self.slots = SlotTable(capacity, agent.state_specs, action)
        burn_in = agent.burn_in if isinstance(agent, ReplayAgent) else 0
        self._unrolls = UnrollAssembler(
            capacity, agent.unroll_length, unroll_fields(agent, spec), agent.state_specs, burn_in=burn_in
        )
        self._queue = unroll_queue
        self._stats = stats
        self._eval_stats = eval_stats
        self._acting = acting
        self._collect_unrolls = collect_unrolls
        self._batch_size = metrics(m.INFERENCE_BATCH)
        self._latency = metrics(m.INFERENCE_LATENCY)
        self._frames = metrics(m.ENV_FRAMES)
        self._episodes = metrics(m.EPISODES)
        self._eval_episodes = metrics(m.EVAL_EPISODES)
        self._lock = threading.Condition()
        self._in_flight = np.zeros(capacity, bool)
        self._serving = serving
        self._train_slots = 0

    def lease(self, count: int, evaluation: bool = False) -> np.ndarray:
        """Lease `count` fresh slots (state reset, no partial unroll); evaluation slots act greedily."""
        with self._lock:
            slots = self.slots.lease(count, evaluation)
            self._unrolls.reset(slots)
            if not evaluation:
                self._count_train_slots(count)
            return slots

    def release(self, slots: np.ndarray) -> None:
        """Free slots, once no batch in flight holds them; their partial unrolls are discarded."""
        with self._lock:
            self._lock.wait_for(lambda: not self._in_flight[slots].any())
            self._unrolls.reset(slots)
            self._count_train_slots(-int((~self.slots.evaluation[slots]).sum()))
            self.slots.release(slots)

    def _count_train_slots(self, change: int) -> None:
        self._train_slots += change
        if self._serving is not None and change:
            self._serving(self._train_slots)

    def process(self, requests: list[StepRequest]) -> list[np.ndarray]:
        """Serve one batch; returns the actions of each request, [K_i, *action_shape]."""
        with self._lock:
            batch = self._prepare(requests)
        try:
            out, policy_version = self._acting.act(batch.inputs, batch.model_state)
            with self._lock:
                return self._finish(batch, out, policy_version)
        finally:
            with self._lock:
                self._in_flight[batch.slots] = False
                self._lock.notify_all()

    def _prepare(self, requests: list[StepRequest]) -> _Batch:
        """Gather the requests' rows, count their episodes and frames, and mark their slots in flight."""
        started = time.perf_counter()
        table = self.slots
        counts = [len(r.slots) for r in requests]
        slots = np.concatenate([r.slots for r in requests])
        rewards = np.concatenate([r.rewards for r in requests])
        terminated = np.concatenate([r.terminated for r in requests])
        truncated = np.concatenate([r.truncated for r in requests])
        observations = np.concatenate([r.observations for r in requests])
        offsets = np.cumsum([0, *counts[:-1]])
        final_rows = np.concatenate([r.final_indices + o for r, o in zip(requests, offsets)])
        done = terminated | truncated

        evaluation = table.evaluation[slots]
        any_evaluation = bool(evaluation.any())
        self._track_episodes(slots, rewards, done, evaluation if any_evaluation else None)

        # Inference on every row plus the final observations of truncated episodes, which
        # continue the recurrent state of their (ended) episode.
        state_in = tuple(component[slots] for component in table.state)
        prev_action = table.prev_action[slots]
        inputs = StepInputs(observations, done, prev_action, rewards, slots)
        model_state = state_in
        if len(final_rows):
            final_obs = np.concatenate([r.final_observations for r in requests])
            inputs = StepInputs(*(
                np.concatenate([rows, extra]) for rows, extra in zip(inputs, (
                    final_obs, np.zeros(len(final_rows), bool), prev_action[final_rows], rewards[final_rows],
                    slots[final_rows],
                ))
            ))
            model_state = tuple(np.concatenate([s, s[final_rows]]) for s in state_in)
        self._in_flight[slots] = True
        return _Batch(
            started, counts, slots, observations, rewards, terminated, truncated, final_rows,
            evaluation if any_evaluation else None, state_in, prev_action, inputs, model_state,
        )

    def _finish(self, batch: _Batch, out: ActOutput, policy_version: int) -> list[np.ndarray]:
        """Store the new state and actions of the batch's slots, extend their unrolls; the actions per request."""
        table, slots, n = self.slots, batch.slots, len(batch.slots)
        rewards, final_rows, evaluation, state_in = batch.rewards, batch.final_rows, batch.evaluation, batch.state_in
        any_evaluation = evaluation is not None
        actions = out.action[:n]
        if any_evaluation:
            rows = evaluation.reshape((n,) + (1,) * (actions.ndim - 1))
            actions = np.where(rows, out.greedy_action[:n], actions)
        truncation_value = np.zeros(n, np.float32)
        truncation_value[final_rows] = out.value[n:]

        for component, new in zip(table.state, out.state):
            component[slots] = new[:n]
        table.prev_action[slots] = actions
        table.prev_reward[slots] = rewards
        self._batch_size.observe(n)
        self._latency.observe(time.perf_counter() - batch.started)

        if self._collect_unrolls:
            step = {
                "observation": batch.observations, "reward": rewards, "terminated": batch.terminated,
                "truncated": batch.truncated, "truncation_value": truncation_value, "prev_action": batch.prev_action,
                "action": actions,
                **{name: value[:n] for name, value in out.extras.items()},
            }
            if any_evaluation:  # evaluation envs are never trained on
                train = ~evaluation
                slots, state_in = slots[train], tuple(s[train] for s in state_in)
                step = {name: value[train] for name, value in step.items()}
            finished = self._unrolls.append(slots, step, state_in, policy_version)
            if finished is not None:
                self._queue.put(finished)  # blocks while training is behind (back-pressure)
        return np.split(actions, np.cumsum(batch.counts[:-1]))

    def _track_episodes(
        self, slots: np.ndarray, rewards: np.ndarray, done: np.ndarray, evaluation: np.ndarray | None
    ) -> None:
        """Episode returns and frames of N rows; `evaluation` [N] bool (None: no evaluation row).

        Evaluation rows count toward the evaluation return only: neither their
        episodes nor their frames are the training run's.
        """
        table = self.slots
        length = table.episode_length[slots]
        stepped = length >= 0  # a fresh slot's first row is its reset observation, not a step
        length = length + 1
        returns = table.episode_return[slots] + rewards
        ended = done & stepped
        if ended.any():
            if evaluation is None:
                self._record(self._stats, self._episodes, returns[ended], length[ended])
            else:
                train_ended, eval_ended = ended & ~evaluation, ended & evaluation
                self._record(self._stats, self._episodes, returns[train_ended], length[train_ended])
                self._record(self._eval_stats, self._eval_episodes, returns[eval_ended], length[eval_ended])
        returns[done] = 0.0
        length[done] = 0
        table.episode_return[slots] = returns
        table.episode_length[slots] = length
        trained_steps = stepped if evaluation is None else stepped & ~evaluation
        frames = int(trained_steps.sum()) * self._frames_per_step
        self._stats.frames += frames
        self._frames.inc(frames)

    @staticmethod
    def _record(stats: EpisodeStats, counter: Counter, returns: np.ndarray, lengths: np.ndarray) -> None:
        """Add finished episodes, returns [E] and lengths [E], to `stats` and `counter`."""
        if len(returns):
            stats.record(returns, lengths)
            counter.inc(len(returns))
