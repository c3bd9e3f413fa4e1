"""Batched inference: the learner's per-step hot path.

`InferencePipeline.process` takes the StepRequests of many streams, runs one model
call for all their environments, records the step into each slot's unroll and
returns every stream's actions. Everything is vectorised over the batch; Python
loops run over requests (streams), never over environments.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Callable

import numpy as np

from seedrl.common import metrics as m
from seedrl.common.spaces import EnvSpec
from seedrl.learner.agents.base import Agent, FieldSpec, StepInputs
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


class InferencePipeline:
    """Leases slots and serves batches of steps. Runs on one thread (the batcher's)."""

    def __init__(
        self,
        agent: Agent,
        spec: EnvSpec,
        capacity: int,
        unroll_queue: UnrollSink,
        stats: EpisodeStats,
        eval_stats: EpisodeStats,
        metrics: m.Metrics,
        policy_version: Callable[[], int],
        collect_unrolls: bool = True,
    ):
        self._agent = agent
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
        self._policy_version = policy_version
        self._collect_unrolls = collect_unrolls
        self._batch_size = metrics(m.INFERENCE_BATCH)
        self._latency = metrics(m.INFERENCE_LATENCY)
        self._frames = metrics(m.ENV_FRAMES)
        self._episodes = metrics(m.EPISODES)
        self._eval_episodes = metrics(m.EVAL_EPISODES)

    def lease(self, count: int, evaluation: bool = False) -> np.ndarray:
        """Lease `count` fresh slots (state reset, no partial unroll); evaluation slots act greedily."""
        slots = self.slots.lease(count, evaluation)
        self._unrolls.reset(slots)
        return slots

    def release(self, slots: np.ndarray) -> None:
        """Free slots; their partial unrolls are discarded."""
        self._unrolls.reset(slots)
        self.slots.release(slots)

    def process(self, requests: list[StepRequest]) -> list[np.ndarray]:
        """Serve one batch; returns the actions of each request, [K_i, *action_shape]."""
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
        n = len(slots)

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
        out = self._agent.act(inputs, model_state)
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
        self._latency.observe(time.perf_counter() - started)

        if self._collect_unrolls:
            step = {
                "observation": observations, "reward": rewards, "terminated": terminated,
                "truncated": truncated, "truncation_value": truncation_value, "prev_action": prev_action,
                "action": actions,
                **{name: value[:n] for name, value in out.extras.items()},
            }
            if any_evaluation:  # evaluation envs are never trained on
                train = ~evaluation
                slots, state_in = slots[train], tuple(s[train] for s in state_in)
                step = {name: value[train] for name, value in step.items()}
            finished = self._unrolls.append(slots, step, state_in, self._policy_version())
            if finished is not None:
                self._queue.put(finished)  # blocks while training is behind (back-pressure)
        return np.split(actions, np.cumsum(counts[:-1]))

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
