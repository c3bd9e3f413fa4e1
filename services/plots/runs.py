"""A run folder's returns as arrays, read from the learner's TensorBoard event files.

The learner writes every summary with `tf.summary.scalar(tag, value, step=learner_step)`, all tags
of one summary at the same step; a run resumed N times has N+1 event files. Reading goes through
TensorBoard's `EventAccumulator` with its TensorFlow stub, so it does not load TensorFlow.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.util import tensor_util

from seedrl.common import metrics as m
from seedrl.common.run_folder import RunFolder
from seedrl.plots import PlotError

FRAMES_TAG = m.ENV_FRAMES.name
RETURN_TAG = m.EPISODE_RETURN.name
EVAL_RETURN_TAG = m.EVAL_RETURN.name
TAGS = (FRAMES_TAG, RETURN_TAG, EVAL_RETURN_TAG)
EVENT_FILES = "events.out.tfevents.*"


@dataclass(frozen=True)
class Scalars:
    """One tag's values over a run, one per learner step, ordered by step.

    `steps` [N] int64, `wall_times` [N] float64 (unix seconds), `values` [N] float64.
    """

    steps: np.ndarray
    wall_times: np.ndarray
    values: np.ndarray


@dataclass(frozen=True)
class ReturnCurve:
    """Mean episode return against env frames and seconds, one point per summary, ordered by step.

    `frames` [N], `seconds` [N] (since the run's first summary) and `returns` [N], all float64.
    """

    frames: np.ndarray
    seconds: np.ndarray
    returns: np.ndarray


@dataclass(frozen=True)
class RunCurves:
    """One run folder's curves: training returns, and evaluation returns where it has any."""

    path: Path
    train: ReturnCurve
    eval: ReturnCurve | None


def read_run(logdir: Path) -> RunCurves:
    """The return curves of the run folder `logdir`; PlotError if it has none (yet)."""
    if not logdir.is_dir():
        raise PlotError(f"no such run folder: {logdir}")
    tensorboard = RunFolder(logdir).tensorboard
    files = sorted(tensorboard.glob(EVENT_FILES))
    if not files:
        raise PlotError(f"no TensorBoard event files in {tensorboard}: has the run written its first summary?")
    scalars = read_scalars(files, TAGS)
    if FRAMES_TAG not in scalars:
        raise PlotError(f"no {FRAMES_TAG} in the events in {tensorboard}: not written by this seedrl's learner")
    if RETURN_TAG not in scalars:
        raise PlotError(f"no episode returns in {tensorboard} yet ({RETURN_TAG}): no episode has ended")
    frames = scalars[FRAMES_TAG]
    start = float(frames.wall_times.min())
    train = against_frames(scalars[RETURN_TAG], frames, start)
    if not train.returns.size:
        raise PlotError(f"no episode returns in {tensorboard} at the steps of its {FRAMES_TAG}")
    evaluation = scalars.get(EVAL_RETURN_TAG)
    return RunCurves(logdir, train, None if evaluation is None else against_frames(evaluation, frames, start))


def read_scalars(files: Sequence[Path], tags: Sequence[str]) -> dict[str, Scalars]:
    """Each of `tags` found in the event `files`, merged: on a step written twice, the later write wins."""
    events: dict[str, list[event_accumulator.TensorEvent]] = {}
    for path in files:
        for tag, tensor_events in _file_events(path, tags).items():
            events.setdefault(tag, []).extend(tensor_events)
    return {tag: merge(tag_events) for tag, tag_events in events.items()}


def merge(events: Sequence[event_accumulator.TensorEvent]) -> Scalars:
    """Scalar events from any number of files -> one value per step, ordered by step (latest wall time wins)."""
    steps = np.array([event.step for event in events], dtype=np.int64)
    wall_times = np.array([event.wall_time for event in events], dtype=np.float64)
    values = np.array([tensor_util.make_ndarray(event.tensor_proto).item() for event in events], dtype=np.float64)
    order = np.lexsort((wall_times, steps))
    steps, wall_times, values = steps[order], wall_times[order], values[order]
    last_of_step = np.append(steps[1:] != steps[:-1], True)
    return Scalars(steps[last_of_step], wall_times[last_of_step], values[last_of_step])


def against_frames(returns: Scalars, frames: Scalars, start: float) -> ReturnCurve:
    """`returns` paired by step with the env frames of the same summary; seconds count from `start`."""
    _, at_return, at_frames = np.intersect1d(returns.steps, frames.steps, assume_unique=True, return_indices=True)
    return ReturnCurve(
        frames=frames.values[at_frames],
        seconds=returns.wall_times[at_return] - start,
        returns=returns.values[at_return],
    )


def run_labels(paths: Sequence[Path]) -> list[str]:
    """Each run folder's name, with as many parent folders as it takes to tell equal names apart."""
    parts = [path.resolve().parts for path in paths]
    labels = []
    for index, own in enumerate(parts):
        others = parts[:index] + parts[index + 1:]
        depth = 1
        while depth < len(own) and any(other[-depth:] == own[-depth:] for other in others):
            depth += 1
        labels.append(Path(*own[-depth:]).as_posix())
    return labels


def _file_events(path: Path, tags: Sequence[str]) -> dict[str, list[event_accumulator.TensorEvent]]:
    """The events of `tags` in one event file, as written (TF2 scalars are tensor events)."""
    accumulator = event_accumulator.EventAccumulator(
        str(path), size_guidance={event_accumulator.TENSORS: 0}, purge_orphaned_data=False
    )
    accumulator.Reload()
    found = set(accumulator.Tags()[event_accumulator.TENSORS])
    return {tag: accumulator.Tensors(tag) for tag in tags if tag in found}


def use_tensorflow_stub() -> None:
    """Make TensorBoard read with its own TensorFlow stub rather than import TensorFlow (seconds).

    For a process that only reads runs (`seedrl plot`): it changes what `tensorboard.compat.tf`
    resolves to for the whole process, so libraries never call it themselves.

    TensorBoard resolves `tensorboard.compat.tf` on first use and takes the stub when the module
    `tensorboard.compat.notf` exists. A process that has imported TensorFlow already keeps it:
    there the stub would also stand in for TensorFlow in `tf.summary`, which then fails.
    """
    if "tensorflow" not in sys.modules:
        sys.modules.setdefault("tensorboard.compat.notf", types.ModuleType("tensorboard.compat.notf"))
