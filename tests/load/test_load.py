"""1,000 env slots over 250 streams against one real learner process (benchmarks/load.py).

The actors are simulated (cheap synthetic rows), the learner and gRPC are real. The
learner must answer every row, count exactly the steps and episodes sent, and give
each env the action for its own observation.
"""

import pytest

from benchmarks.load import PATTERNS, run_load

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SLOTS = 1000
ENVS_PER_STREAM = 4
SECONDS = 6.0


def test_a_thousand_slots_lose_no_step_and_misroute_no_action():
    result = run_load(SLOTS, ENVS_PER_STREAM, SECONDS)
    print(
        f"\n{SLOTS} slots / {result.streams} streams: {result.fps:,.0f} rows/s, round trip p50 "
        f"{result.round_trip_ms(0.5):.1f} ms p99 {result.round_trip_ms(0.99):.1f} ms, inference p50 "
        f"{result.learner.inference_p50_ms:.2f} ms p99 {result.learner.inference_p99_ms:.2f} ms, "
        f"learner RSS {result.learner.rss_mb:.0f} MB"
    )
    assert result.errors == []
    assert result.train.slots + result.evaluation.slots == SLOTS
    # Every stream got an answer for every batch it sent, and enough of them to mean something.
    assert result.train.replies > 10 * result.streams // 2
    assert result.train.steps > 0 and result.train.episodes > 0 and result.evaluation.episodes > 0
    assert (result.learner.frames, result.learner.episodes) == (result.train.steps, result.train.episodes)
    assert result.learner.eval_episodes == result.evaluation.episodes
    assert len(result.evaluation.greedy) == PATTERNS and result.evaluation.misrouted == 0
