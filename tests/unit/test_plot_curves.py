"""`seedrl plot`'s reading of run folders (real TF event files) and its drawing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing.event_accumulator import TensorEvent
from tensorboard.util import tensor_util

from seedrl.plots import PlotError
from seedrl.plots.curves import plot_runs
from seedrl.plots.runs import EVAL_RETURN_TAG, FRAMES_TAG, RETURN_TAG, merge, read_run, run_labels


def write_summaries(logdir: Path, summaries: dict[int, dict[str, float]]) -> None:
    """One learner session's event file in `logdir/tensorboard`: `{step: {tag: value}}`, as the learner writes."""
    writer = tf.summary.create_file_writer(str(logdir / "tensorboard"))
    for step, scalars in summaries.items():
        with writer.as_default(step=step):
            for tag, value in scalars.items():
                tf.summary.scalar(tag, value)
    writer.close()


def summary(frames: float, mean_return: float | None = None, eval_return: float | None = None) -> dict[str, float]:
    scalars = {FRAMES_TAG: frames, "seedrl_loss/total": 0.5}
    if mean_return is not None:
        scalars[RETURN_TAG] = mean_return
    if eval_return is not None:
        scalars[EVAL_RETURN_TAG] = eval_return
    return scalars


def event(step: int, wall_time: float, value: float) -> TensorEvent:
    return TensorEvent(wall_time=wall_time, step=step, tensor_proto=tensor_util.make_tensor_proto(value))


def test_returns_are_paired_with_the_frames_of_the_same_step_and_missing_eval_is_none(tmp_path):
    write_summaries(tmp_path, {1: summary(800), 2: summary(1600, 9.5), 3: summary(2400, 12), 4: summary(3200, 20.25)})
    run = read_run(tmp_path)
    np.testing.assert_array_equal(run.train.frames, [1600, 2400, 3200])
    np.testing.assert_array_equal(run.train.returns, [9.5, 12.0, 20.25])
    assert run.train.seconds.shape == (3,) and run.train.seconds[0] > 0  # counted from step 1, before any return
    assert np.all(np.diff(run.train.seconds) >= 0)
    assert run.eval is None and run.path == tmp_path


def test_eval_returns_are_paired_with_frames_like_training_returns(tmp_path):
    write_summaries(tmp_path, {1: summary(800, 10), 2: summary(1600, 11, 30), 3: summary(2400, 12, 50)})
    run = read_run(tmp_path)
    np.testing.assert_array_equal(run.eval.frames, [1600, 2400])
    np.testing.assert_array_equal(run.eval.returns, [30, 50])
    np.testing.assert_array_equal(run.train.returns, [10, 11, 12])


def test_a_resumed_run_merges_its_event_files_by_step_and_the_later_write_of_a_step_wins(tmp_path):
    write_summaries(tmp_path, {1: summary(100, 1), 2: summary(200, 2), 3: summary(300, 3)})
    write_summaries(tmp_path, {3: summary(300, 33), 4: summary(400, 4)})  # resumed from a checkpoint at step 2
    assert len(list((tmp_path / "tensorboard").iterdir())) == 2
    run = read_run(tmp_path)
    np.testing.assert_array_equal(run.train.frames, [100, 200, 300, 400])
    np.testing.assert_array_equal(run.train.returns, [1, 2, 33, 4])
    assert np.all(np.diff(run.train.seconds) >= 0)


def test_merge_orders_by_step_and_keeps_the_latest_write_of_each_step():
    written = [(5, 20.0, 5.0), (2, 10.0, 2.0), (5, 30.0, 55.0), (1, 40.0, 1.0), (5, 25.0, 0.0)]  # step, time, value
    scalars = merge([event(*args) for args in written])
    np.testing.assert_array_equal(scalars.steps, [1, 2, 5])
    np.testing.assert_array_equal(scalars.wall_times, [40.0, 10.0, 30.0])
    np.testing.assert_array_equal(scalars.values, [1.0, 2.0, 55.0])


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda logdir: None, "no such run folder"),
        (lambda logdir: logdir.mkdir(), "no TensorBoard event files"),
        (lambda logdir: (logdir / "tensorboard").mkdir(parents=True), "no TensorBoard event files"),
        (lambda logdir: write_summaries(logdir, {1: summary(800), 2: summary(1600)}), "no episode returns"),
        (lambda logdir: write_summaries(logdir, {1: {FRAMES_TAG: 800}, 2: {RETURN_TAG: 10}}), "at the steps of"),
        (lambda logdir: write_summaries(logdir, {1: {"env_frames": 800.0}}), f"no {FRAMES_TAG}"),
    ],
    ids=["missing", "no-tensorboard-folder", "no-event-files", "no-returns-yet", "unpaired-returns", "other-tags"],
)
def test_a_run_without_returns_to_plot_is_a_plot_error_naming_the_folder(tmp_path, setup, message):
    logdir = tmp_path / "run"
    setup(logdir)
    with pytest.raises(PlotError, match=message) as raised:
        read_run(logdir)
    assert str(logdir) in str(raised.value)


def test_reading_a_run_with_the_stub_does_not_import_tensorflow(tmp_path):
    write_summaries(tmp_path, {1: summary(800, 10), 2: summary(1600, 11)})
    code = (
        "import sys; from pathlib import Path; from seedrl.plots.runs import read_run, use_tensorflow_stub; "
        f"use_tensorflow_stub(); run = read_run(Path({str(tmp_path)!r})); print(run.train.returns.tolist(), 'tensorflow' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["[10.0,", "11.0]", "False"]


@pytest.mark.parametrize(
    ("paths", "labels"),
    [
        (["a/run1", "b/run2"], ["run1", "run2"]),
        (["a/run", "b/run", "c/other"], ["a/run", "b/run", "other"]),
        (["x/a/run", "y/a/run"], ["x/a/run", "y/a/run"]),
    ],
)
def test_labels_are_folder_names_with_parents_only_where_names_repeat(tmp_path, monkeypatch, paths, labels):
    monkeypatch.chdir(tmp_path)
    assert run_labels([Path(path) for path in paths]) == labels


def test_the_png_is_width_times_dpi_by_height_times_dpi_pixels(tmp_path):
    for name in ("first", "second"):
        write_summaries(tmp_path / name, {1: summary(800, 10, 20), 2: summary(1600, 11, 30)})
    output = tmp_path / "out" / "curves.png"
    plot_runs([tmp_path / "first", tmp_path / "second"], output, title="CartPole", size=(6.4, 2.5), dpi=50)
    assert matplotlib.image.imread(output).shape[:2] == (125, 320)


def test_a_single_summary_run_is_drawn(tmp_path):
    write_summaries(tmp_path / "run", {1: summary(800, 10)})
    plot_runs([tmp_path / "run"], tmp_path / "one.png", size=(4, 3), dpi=100)
    assert matplotlib.image.imread(tmp_path / "one.png").shape[:2] == (300, 400)


@pytest.mark.parametrize(("suffix", "magic"), [(".svg", b"<?xml"), (".pdf", b"%PDF"), (".PNG", b"\x89PNG")])
def test_svg_and_pdf_are_chosen_by_suffix(tmp_path, suffix, magic):
    write_summaries(tmp_path / "run", {1: summary(800, 10), 2: summary(1600, 11)})
    output = tmp_path / f"curves{suffix}"
    plot_runs([tmp_path / "run"], output)
    assert output.read_bytes().startswith(magic)


@pytest.mark.parametrize(
    ("output", "size", "dpi", "message"),
    [
        ("curves.jpg", (10, 4), 100, "image format"),
        ("curves", (10, 4), 100, "image format"),
        ("curves.png", (10, 0), 100, "must be positive"),
        ("curves.png", (10, 4), -1, "must be positive"),
    ],
)
def test_bad_outputs_are_refused_before_reading_any_run(tmp_path, output, size, dpi, message):
    with pytest.raises(PlotError, match=message):
        plot_runs([tmp_path / "missing"], tmp_path / output, size=size, dpi=dpi)
    assert not (tmp_path / output).exists()
