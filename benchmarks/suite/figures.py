"""Figures of repeated benchmark runs: what each number is, and its median and min–max spread over the runs.

A run's value of a figure is a float, or None when the run did not get there (a time to solve that ran
out of time). None ranks above every number, so a median is a number only while more than half of the
runs got there.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

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
    """The median as the doc shows it: a number, a number with how many runs reached it, or `not reached`
    with how many did and the highest `fallback` value (the figure's fallback over the runs that did not),
    e.g. `not reached (1/3 reached; best mean return 384.3)`."""
    if summary.median is None:
        details = [f"{summary.reached}/{summary.runs} reached"] if summary.reached else []
        if figure.fallback is not None and fallback is not None and fallback.high is not None:
            details.append(f"{figure.fallback.label} {number(fallback.high, figure.fallback.digits)}")
        return f"not reached ({'; '.join(details)})" if details else "not reached"
    shown = number(summary.median, figure.digits)
    return shown if summary.reached == summary.runs else f"{shown} ({summary.reached}/{summary.runs} reached)"


def spread_text(figure: Figure, summary: Summary) -> str:
    """`low–high` over the runs; `low–not reached` when some runs did not get there."""
    if summary.low is None:
        return f"0/{summary.runs} reached"
    high = number(summary.high, figure.digits) if summary.reached == summary.runs else "not reached"
    return f"{number(summary.low, figure.digits)}–{high}"
