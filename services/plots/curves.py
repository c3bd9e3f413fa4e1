"""Learning curves as an image: mean episode return against env frames and against wall time.

Drawn with matplotlib's object API on the Agg canvas: no pyplot, no display needed. The image is
`size` inches at `dpi`, so a PNG is round(width * dpi) x round(height * dpi) pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from seedrl.plots import PlotError
from seedrl.plots.runs import RunCurves, read_run, run_labels

FORMATS = (".png", ".svg", ".pdf")
DEFAULT_SIZE = (10.0, 4.0)
DEFAULT_DPI = 100.0
EVAL_LINESTYLE = "--"


def plot_runs(
    logdirs: Sequence[Path],
    output: Path,
    title: str | None = None,
    size: tuple[float, float] = DEFAULT_SIZE,
    dpi: float = DEFAULT_DPI,
) -> None:
    """Draw the curves of the run folders `logdirs` into `output` (.png, .svg or .pdf), `size` in inches."""
    check_output(output, size, dpi)
    figure = draw([read_run(logdir) for logdir in logdirs], run_labels(logdirs), title, size)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(output, dpi=dpi)
    except OSError as error:
        raise PlotError(f"cannot write {output}: {error.strerror or error}") from error


def check_output(output: Path, size: tuple[float, float], dpi: float) -> None:
    """PlotError unless `output` names a format this draws and the size and dpi are positive."""
    if output.suffix.lower() not in FORMATS:
        raise PlotError(f"cannot tell the image format of {output}: end it with {', '.join(FORMATS)}")
    if min(*size, dpi) <= 0:
        raise PlotError(f"size and dpi must be positive, got {size[0]}x{size[1]} inches at {dpi} dpi")


def draw(runs: Sequence[RunCurves], labels: Sequence[str], title: str | None, size: tuple[float, float]) -> Figure:
    """Two plots side by side, return vs frames and vs seconds: a colour per run, evaluation dashed."""
    figure = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(figure)
    by_frames, by_time = figure.subplots(1, 2, sharey=True)
    for index, run in enumerate(runs):
        colour = _colour(index)
        for curve, linestyle in ((run.train, "-"), (run.eval, EVAL_LINESTYLE)):
            if curve is not None:
                _line(by_frames, curve.frames, curve.returns, colour, linestyle)
                _line(by_time, curve.seconds, curve.returns, colour, linestyle)
    by_frames.set(xlabel="environment frames", ylabel="mean episode return (last 100)")
    by_time.set(xlabel="wall time (s since the run's first summary)")
    for axes in (by_frames, by_time):
        axes.grid(alpha=0.3)
    by_frames.legend(handles=_legend(runs, labels), loc="best", fontsize="small")
    if title:
        figure.suptitle(title)
    return figure


def _colour(index: int) -> str:
    """The colour of the `index`th run: matplotlib's default cycle of ten."""
    return f"C{index % 10}"


def _line(axes: Axes, x: np.ndarray, y: np.ndarray, colour: str, linestyle: str) -> None:
    """`y` [N] against `x` [N]; a lone point gets a marker, as a line through it would not show."""
    axes.plot(x, y, color=colour, linestyle=linestyle, marker="o" if len(x) == 1 else None)


def _legend(runs: Sequence[RunCurves], labels: Sequence[str]) -> list[Line2D]:
    """One entry per run in its colour, and one for the dashed evaluation lines if any run has them."""
    handles = [Line2D([], [], color=_colour(index), label=label) for index, label in enumerate(labels)]
    if any(run.eval is not None for run in runs):
        handles.append(Line2D([], [], color="grey", linestyle=EVAL_LINESTYLE, label="evaluation"))
    return handles
