"""Progress counters: the last-100 window and the rate meter."""

import math

import numpy as np

from seedrl.learner.episodes import EpisodeStats, RateMeter


def test_the_window_keeps_only_the_newest_episodes():
    stats = EpisodeStats(window=4)
    assert math.isnan(stats.mean_return)
    stats.record(np.array([1.0, 2.0, 3.0]), np.array([10, 20, 30]))
    stats.record(np.array([4.0, 5.0]), np.array([40, 50]))
    assert sorted(stats.recent_returns.tolist()) == [2.0, 3.0, 4.0, 5.0]
    assert stats.mean_return == 3.5 and stats.mean_length == 35 and stats.episodes == 5
    stats.record(np.arange(10.0), np.arange(10))  # more than the window at once
    assert sorted(stats.recent_returns.tolist()) == [6.0, 7.0, 8.0, 9.0] and stats.episodes == 15


def test_the_rate_meter_measures_over_its_horizon():
    now = [0.0]
    meter = RateMeter(horizon_s=2.0, clock=lambda: now[0])
    assert meter.update(0) == 0.0
    for t, count in ((1.0, 100), (2.0, 200), (3.0, 1200), (4.0, 2200)):
        now[0] = t
        rate = meter.update(count)
    assert rate == 1000.0  # only the last ~2 s count
