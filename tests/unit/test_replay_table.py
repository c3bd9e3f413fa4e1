"""The replay table between inference and training: minimum fill, replay ratio both ways, close, metrics."""

import threading
import time

import numpy as np
import pytest

from seedrl.common import metrics as m
from seedrl.learner.replay.buffer import PrioritizedReplay
from seedrl.learner.replay.table import ReplayTable
from seedrl.learner.unroll_queue import QueueClosed
from tests.unit.test_replay import FIELDS, LENGTH, STATE, unrolls


def table(min_fill=4, ratio=None, batch_size=2, capacity=100):
    metrics = m.Metrics("t", "learner")
    buffer = PrioritizedReplay(capacity, LENGTH, FIELDS, STATE, 0.0, 0.0)
    return ReplayTable(buffer, lambda u: np.ones(len(u)), batch_size, min_fill, ratio, metrics), metrics


def value(metrics, spec):
    return metrics.registry.get_sample_value(spec.series[0], {"experiment": "t", "role": "learner"})


def test_training_waits_for_the_minimum_fill():
    replay, metrics = table(min_fill=4)
    replay.put(unrolls([0, 1, 2]))
    assert replay.sample(2, timeout=0.05) is None
    replay.put(unrolls([3]))
    assert len(replay.sample(2, timeout=0.05).indices) == 2
    assert value(metrics, m.REPLAY_SIZE) == 4 and value(metrics, m.REPLAY_INSERTS) == 4
    assert value(metrics, m.REPLAY_SAMPLES) == 2
    assert value(metrics, m.REPLAY_BYTES) == 4 * replay.replay.item_bytes


def test_the_replay_ratio_holds_training_back_and_acting_back():
    # ratio 2: after the fill, each inserted unroll allows 2 sampled unrolls (one batch of 2).
    replay, _ = table(min_fill=2, ratio=2.0, batch_size=2)
    replay.put(unrolls([0, 1]))
    assert replay.sample(2, timeout=0.05) is None  # nothing inserted past the fill yet
    replay.put(unrolls([2]))
    assert replay.sample(2, timeout=0.05) is not None
    assert replay.sample(2, timeout=0.05) is None
    # Acting may run ahead by two batches (4 sampled unrolls) and then waits for training.
    replay.put(unrolls([3, 4]))  # budget 4
    done = threading.Event()
    thread = threading.Thread(target=lambda: (replay.put(unrolls([5])), replay.put(unrolls([6])), done.set()))
    thread.start()  # budget 6 after the first put: the second waits
    assert not done.wait(0.2)
    for _ in range(2):  # training catches up: the budget drops to 2 and acting goes on
        assert replay.sample(2, timeout=1) is not None
    assert done.wait(2)
    thread.join()


def test_close_wakes_a_waiting_sampler_and_later_puts_fail():
    replay, _ = table(min_fill=10)
    errors = []

    def wait():
        try:
            replay.sample(2, timeout=5)
        except QueueClosed:
            errors.append("closed")

    thread = threading.Thread(target=wait)
    thread.start()
    time.sleep(0.05)
    replay.close()
    thread.join(2)
    assert errors == ["closed"]
    with pytest.raises(QueueClosed):
        replay.put(unrolls([0]))


def test_on_policy_learners_export_the_replay_series_at_zero():
    from seedrl.learner.replay.table import export_replay_metrics

    metrics = m.Metrics("t", "learner")
    export_replay_metrics(metrics)
    assert [value(metrics, spec) for spec in (m.REPLAY_SIZE, m.REPLAY_BYTES, m.REPLAY_INSERTS, m.REPLAY_SAMPLES)] == [0] * 4
