"""Reconnection backoff: grows exponentially, is jittered, never exceeds its cap, and resets."""

import random

from seedrl.common.backoff import Backoff


def test_waits_grow_up_to_the_cap_and_reset():
    backoff = Backoff(0.1, 2.0, rng=random.Random(0))
    ceilings = [min(2.0, 0.1 * 2**i) for i in range(10)]
    waits = [backoff.next() for _ in range(10)]
    assert all(0.05 <= w <= c for w, c in zip(waits, ceilings))
    assert max(waits[6:]) > 1.0  # it does grow
    backoff.reset()
    assert backoff.next() <= 0.1
