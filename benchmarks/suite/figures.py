"""Figures of repeated benchmark runs: what each number is, and its median and min–max spread over the runs.

A run's value of a figure is a float, or None when the run did not get there (a time to solve that ran
out of time). None ranks above every number, so a median is a number only while more than half of the
runs got there.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Value = float | None


@dataclass(frozen=True)
class Figure:
    """One measured number: its key in a part's runs, its label and unit in the doc, the decimals shown,
    and (for a figure a run may not reach) the figure shown in its place when most runs did not."""

    key: str
    label: str
    unit: str
    digits: int = 0
    fallback: Figure | None = None


@dataclass(frozen=True)
class Summary:
    """A figure over `runs` runs: the median (None: not reached in most runs), the lowest and highest value
    reached (None when no run reached it), and how many runs reached it."""

    median: float | None
    low: float | None
    high: float | None
    reached: int
    runs: int


def summarize(values: Sequence[Value]) -> Summary:
    """Median and min–max spread of one figure's values over runs; None counts as not reached."""
    if not values:
        raise ValueError("no runs to summarize")
    reached = sorted(v for v in values if v is not None)
    ranked = reached + [math.inf] * (len(values) - len(reached))
    middle = len(ranked) // 2
    median = ranked[middle] if len(ranked) % 2 else (ranked[middle - 1] + ranked[middle]) / 2
    if not reached:
        return Summary(None, None, None, 0, len(values))
    return Summary(None if math.isinf(median) else median, reached[0], reached[-1], len(reached), len(values))


def number(value: float, digits: int) -> str:
    """`value` with thousands separators and `digits` decimals."""
    return f"{value:,.{digits}f}"


def median_text(figure: Figure, summary: Summary, fallback: Summary | None) -> str:
    """The median as the doc shows it (how many runs reached it is the table's runs column): a number, or
    `not reached` with the highest `fallback` value (the figure's fallback over the runs that did not),
    e.g. `not reached (best mean return 384.3)`."""
    if summary.median is None:
        if figure.fallback is not None and fallback is not None and fallback.high is not None:
            return f"not reached ({figure.fallback.label} {number(fallback.high, figure.fallback.digits)})"
        return "not reached"
    return number(summary.median, figure.digits)


def spread_text(figure: Figure, summary: Summary) -> str:
    """`low–high` over the runs; `low–not reached` when some runs did not get there."""
    if summary.low is None:
        return f"0/{summary.runs} reached"
    high = number(summary.high, figure.digits) if summary.reached == summary.runs else "not reached"
    return f"{number(summary.low, figure.digits)}–{high}"


# A run is flagged as collapsed, and left out of its figures' medians and spreads, when its FPS is below this
# fraction of the median FPS of the other runs of the same case, when it never finished a full window of 100
# episodes, or when it stalled (no progress reported) for STALL_S seconds or more.
COLLAPSE_FRACTION = 0.5
STALL_S = 30.0


@dataclass(frozen=True)
class Health:
    """What a run of one case (an agent, a peer) reports about itself: the keys of its FPS, of its best mean return
    of 100 episodes (None in a run that never finished 100) and of its longest stall in seconds; a flagged run's
    figures are those whose keys start with one of `covers`."""

    case: str
    fps: str
    best_return: str | None = None
    stall: str | None = None
    covers: tuple[str, ...] = ()


def collapsed(runs: Sequence[dict[str, Value]], health: Health) -> dict[int, str]:
    """{run index: why} for the runs of `health.case` that collapsed (see COLLAPSE_FRACTION)."""
    flagged: dict[int, str] = {}
    for index, run in enumerate(runs):
        if health.fps not in run:
            continue  # the case did not run this time
        others = [other[health.fps] for at, other in enumerate(runs) if at != index and other.get(health.fps)]
        fps = run[health.fps] or 0.0
        reasons = []
        if others and fps < COLLAPSE_FRACTION * float(np.median(others)):
            reasons.append(f"FPS {fps:,.0f} below {COLLAPSE_FRACTION:g} of the other runs' median "
                           f"{np.median(others):,.0f}")
        if health.best_return is not None and health.best_return in run and run[health.best_return] is None:
            reasons.append("no full window of 100 episodes")
        stall = run.get(health.stall) if health.stall is not None else None
        if stall is not None and stall >= STALL_S:
            reasons.append(f"no progress for {stall:.0f} s")
        if reasons:
            flagged[index] = "; ".join(reasons)
    return flagged
