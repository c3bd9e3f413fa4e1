"""The bounded unroll queue: exact batches from uneven chunks, back-pressure, close."""

import threading
import time

import numpy as np
import pytest

from seedrl.learner.unroll_queue import QueueClosed, UnrollQueue
from seedrl.learner.unrolls import Unrolls


def chunk(start, count):
    ids = np.arange(start, start + count)
    return Unrolls({"id": ids[:, None].repeat(3, axis=1)}, (ids.astype(np.float32),), ids)


def test_batches_are_exact_and_keep_order_across_chunk_boundaries():
    queue = UnrollQueue(batch_size=50)
    queue.put(chunk(0, 3))
    queue.put(chunk(3, 5))
    queue.put(chunk(8, 2))
    first, second = queue.get_batch(4), queue.get_batch(6)
    assert first.policy_version.tolist() == [0, 1, 2, 3]
    assert second.policy_version.tolist() == [4, 5, 6, 7, 8, 9]
    np.testing.assert_array_equal(second.steps["id"][:, 0], second.initial_state[0])
    assert len(queue) == 0
    assert queue.get_batch(1, timeout=0.01) is None


def test_put_blocks_while_full_and_resumes_when_training_takes_a_batch():
    queue = UnrollQueue(batch_size=2)
    queue.put(chunk(0, 4))
    unblocked = threading.Event()

    def producer():
        queue.put(chunk(4, 1))
        unblocked.set()

    threading.Thread(target=producer, daemon=True).start()
    time.sleep(0.1)
    assert not unblocked.is_set()  # back-pressure
    queue.get_batch(2)
    assert unblocked.wait(2.0)


def test_close_wakes_blocked_producers_and_consumers():
    queue = UnrollQueue(batch_size=1, batches=1)
    queue.put(chunk(0, 1))
    errors = []

    def blocked(call):
        try:
            call()
        except QueueClosed:
            errors.append(call)

    threads = [threading.Thread(target=blocked, args=(lambda: queue.put(chunk(1, 1)),)),
               threading.Thread(target=blocked, args=(lambda: queue.get_batch(5),))]
    for thread in threads:
        thread.start()
    time.sleep(0.05)
    queue.close()
    for thread in threads:
        thread.join(2.0)
    assert len(errors) == 2
    with pytest.raises(QueueClosed):
        queue.put(chunk(2, 1))
