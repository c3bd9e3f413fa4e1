"""`batch_size: auto`: the train batch follows the env slots served, as actors come and go."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from pydantic import ValidationError

from seedrl.common import metrics as m
from seedrl.learner.agents.vtrace.agent import VTraceAgent
from seedrl.learner.devices.acting import LiveActing
from seedrl.learner.episodes import EpisodeStats
from seedrl.learner.inference import InferencePipeline
from seedrl.learner.training import time_major
from seedrl.learner.unroll_queue import UnrollQueue
from seedrl.spec.scaling import auto_batch_size
from seedrl.spec.vtrace import VTraceConfig
from tests.unit.test_inference_pipeline import request
from tests.unit.test_tensors_and_specs import cartpole_spec
from tests.unit.test_unroll_queue import chunk


@pytest.mark.parametrize(("slots", "per_unroll", "multiple", "expected"), [
    (32, 2, 1, 16), (128, 2, 1, 64), (33, 2, 1, 17), (1, 2, 1, 1), (0, 2, 1, 1), (20, 2, 8, 16), (36, 2, 8, 24),
    (256, 4, 1, 64),
])
def test_an_automatic_batch_takes_one_unroll_per_slots_per_unroll_in_whole_multiples(slots, per_unroll, multiple, expected):
    assert auto_batch_size(slots, per_unroll, multiple) == expected


def test_batch_size_is_a_number_or_auto():
    assert VTraceConfig().batch_size == "auto"
    assert VTraceConfig(batch_size="24").batch_size == 24  # as a flag gives it
    for wrong in (0, "big", 5000):
        with pytest.raises(ValidationError, match="batch_size"):
            VTraceConfig(batch_size=wrong)


def test_the_queue_sizes_batches_and_back_pressure_from_the_slots_it_is_told_of():
    queue = UnrollQueue(lambda slots: auto_batch_size(slots, 2), batches=2)
    queue.serve(8)
    assert (queue.batch_size, queue.capacity) == (4, 8)
    queue.put(chunk(0, 8))
    blocked_put_done = threading.Event()
    threading.Thread(target=lambda: (queue.put(chunk(8, 4)), blocked_put_done.set()), daemon=True).start()
    assert not blocked_put_done.wait(0.1)  # full: 2 batches of 4
    queue.serve(16)  # more envs: batches of 8, room for 16 unrolls
    assert blocked_put_done.wait(2.0)
    batch = queue.get_batch(timeout=1)
    assert batch.policy_version.tolist() == list(range(8))


def test_when_every_actor_is_gone_the_unrolls_they_left_train_in_batches_of_their_size():
    """Not one update per left-over unroll (each a full gradient step on a single unroll, which is what the
    policy-lag bound of the learning tests once caught at the end of a run)."""
    queue = UnrollQueue(lambda slots: auto_batch_size(slots, 2), batches=2)
    queue.serve(16)
    queue.put(chunk(0, 12))
    queue.serve(0)
    assert queue.batch_size == 8
    assert queue.get_batch(timeout=1).policy_version.tolist() == list(range(8))
    assert queue.get_batch(timeout=0.1) is None  # 4 unrolls wait for the actors to come back


def test_inference_reports_the_training_slots_it_leases_and_releases():
    agent = VTraceAgent(cartpole_spec(), VTraceConfig(unroll_length=2), total_frames=1000)
    reported: list[int] = []
    pipe = InferencePipeline(
        agent, cartpole_spec(), 64, UnrollQueue(8), EpisodeStats(), EpisodeStats(), m.Metrics("t", "learner"),
        LiveActing(agent, lambda: 0), serving=reported.append,
    )
    first, evaluation, second = pipe.lease(16), pipe.lease(4, evaluation=True), pipe.lease(16)
    pipe.release(first)
    pipe.release(evaluation)
    assert reported == [16, 32, 16]  # evaluation slots never count
    pipe.release(second)
    assert reported[-1] == 0


def test_an_automatic_agent_trains_on_whatever_batch_the_queue_sizes_at_the_configured_rate():
    agent = VTraceAgent(cartpole_spec(), VTraceConfig(unroll_length=2, lr_decay=False), total_frames=10_000)
    rule = agent.batch_size
    assert callable(rule) and rule(32) == 16 and rule(128) == 64
    queue = UnrollQueue(rule)
    pipe = InferencePipeline(agent, cartpole_spec(), 64, queue, EpisodeStats(), EpisodeStats(),
                             m.Metrics("t", "learner"), LiveActing(agent, lambda: 0), serving=queue.serve)
    for envs in (8, 32):
        slots = pipe.lease(envs)
        for _ in range(3):  # the reset row, then two steps: one unroll per slot
            pipe.process([request(slots, np.zeros(envs))])
        metrics = agent.train(time_major(queue.get_batch(timeout=1)), frames=0)
        assert metrics["batch_size"] == queue.batch_size
        assert metrics["learning_rate"] == pytest.approx(3e-3)
    assert queue.batch_size == 20  # 40 training slots
