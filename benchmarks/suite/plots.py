"""The plots of docs/benchmarks.md: medians with min–max error bars, one PNG per part that has runs.

Drawn with matplotlib's object API on the Agg canvas (no pyplot, no display), as `seedrl plot` draws.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure as Canvas
from matplotlib.ticker import StrMethodFormatter

from benchmarks.suite.figures import Figure, Summary, summarize
from benchmarks.suite.parts import CARTPOLE, ENVS, LATENCY, LATENCY_SLOTS, OVERHEAD
from benchmarks.suite.results import PartRecord, Results

SIZE = (7.0, 3.6)  # inches
DPI = 100
NOT_REACHED_COLOUR = "0.85"


def summaries(record: PartRecord, figures: Sequence[Figure]) -> list[Summary | None]:
    """Each figure's summary over the part's runs; None where no run has it."""
    return [summarize(values) if (values := record.values(figure.key)) else None for figure in figures]


def error_bars(medians: np.ndarray, lows: np.ndarray, highs: np.ndarray) -> np.ndarray:
    """[2, N] distances below and above each median, as `Axes.bar(yerr=...)` takes them."""
    return np.stack([medians - lows, highs - medians])


def draw_plots(results: Results, folder: Path) -> dict[str, Path]:
    """Draw the plots of the parts that have runs into `folder`; {part name: PNG path}."""
    drawers = {OVERHEAD.name: _overhead, CARTPOLE.name: _time_to_solve, LATENCY.name: _latency, ENVS.name: _env_rates}
    written = {}
    for name, draw in drawers.items():
        record = results.parts.get(name)
        if record is None or not record.runs:
            continue
        canvas = Canvas(figsize=SIZE, layout="constrained")
        FigureCanvasAgg(canvas)
        draw(canvas.subplots(), record)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        canvas.savefig(path, dpi=DPI)
        written[name] = path
    return written


def _bars(
    axes: Axes, labels: Sequence[str], found: Sequence[Summary | None], digits: int = 0, horizontal: bool = False,
    ceiling: float = np.nan,
) -> None:
    """One bar per figure, in order: at its median, labelled with it (`digits` decimals), error bars from the lowest
    to the highest run (to `ceiling` where a run did not get there); figures without a median get no bar."""
    at = [index for index, s in enumerate(found) if s is not None and s.median is not None]
    kept = [found[index] for index in at]
    medians = np.array([s.median for s in kept], dtype=float)
    lows = np.array([s.low for s in kept], dtype=float)
    highs = np.array([s.high if s.reached == s.runs else ceiling for s in kept], dtype=float)
    if horizontal:
        bars = axes.barh(at, medians, xerr=error_bars(medians, lows, highs), capsize=3)
        axes.set_yticks(range(len(labels)), labels)
        axes.invert_yaxis()
        axes.margins(x=0.15)
    else:
        bars = axes.bar(at, medians, yerr=error_bars(medians, lows, highs), capsize=3)
        axes.set_xticks(range(len(labels)), labels)
        axes.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
        axes.margins(y=0.12)
    axes.bar_label(bars, labels=[f"{median:,.{digits}f}" for median in medians], padding=4, fontsize="small")


def _overhead(axes: Axes, record: PartRecord) -> None:
    """The three rates; the title gives the overhead ratio b/a and the training ratio c/a."""
    rates = OVERHEAD.figures[:3]
    _bars(axes, [figure.label.replace(", ", "\n") for figure in rates], summaries(record, rates))
    ratios = [summarize(record.values(key)).median for key in ("untrained_ratio", "training_ratio")]
    axes.set_ylabel("env steps/s (frames/s)")
    axes.set_title(f"CartPole data path: b/a = {ratios[0]:.3f}, c/a = {ratios[1]:.3f} (medians)")


def _time_to_solve(axes: Axes, record: PartRecord) -> None:
    """Median time to 475 per agent; agents most of whose runs did not get there are hatched bars at the limit."""
    figures = [figure for figure in CARTPOLE.figures if figure.fallback is not None]
    agents = [figure.key.split(".")[0] for figure in figures]
    limit = float(record.settings["limit_s"])
    found = summaries(record, figures)
    _bars(axes, agents, found, digits=1, ceiling=limit)
    missed = [index for index, s in enumerate(found) if s is not None and s.median is None]
    if missed:
        axes.bar(missed, [limit] * len(missed), color=NOT_REACHED_COLOUR, hatch="//", edgecolor="0.5",
                 label=f"not reached within {limit:g} s or the frame budget")
        axes.legend(loc="upper left", fontsize="small")
    axes.set_ylabel("seconds to a mean return of 475")
    axes.set_title("CartPole-v1: time to solve, from launch")


def _latency(axes: Axes, record: PartRecord) -> None:
    for quantile in ("p50", "p99"):
        figures = [LATENCY.figure(f"{slots}.inference_{quantile}") for slots in LATENCY_SLOTS]
        found = summaries(record, figures)
        points = [(slots, s) for slots, s in zip(LATENCY_SLOTS, found) if s is not None and s.median is not None]
        slots = np.array([p for p, _ in points], dtype=float)
        medians = np.array([s.median for _, s in points], dtype=float)
        bars = error_bars(medians, np.array([s.low for _, s in points]), np.array([s.high for _, s in points]))
        axes.errorbar(slots, medians, yerr=bars, marker="o", capsize=3, label=quantile)
    axes.set_xscale("log")
    axes.set_xticks(LATENCY_SLOTS, [f"{slots:,}" for slots in LATENCY_SLOTS])
    axes.set_xlabel("env slots held by one learner")
    axes.set_ylabel("inference latency (ms)")
    axes.set_title("Learner inference latency vs env slots")
    axes.legend()


def _env_rates(axes: Axes, record: PartRecord) -> None:
    measured = [figure for figure in ENVS.figures if figure.key not in record.skipped]
    _bars(axes, [figure.label for figure in measured], summaries(record, measured), horizontal=True)
    axes.set_xscale("log")
    axes.set_xlabel("env steps/s, one actor process")
    axes.set_title("Actor env steps/s per family")
