"""`seedrl plot` as a user runs it: curves of two real `seedrl train` runs (the session's, which other tests
check too), and its one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import matplotlib.image
import pytest

from seedrl.plots.runs import read_run
from tests.integration.helpers import Run

pytestmark = pytest.mark.integration

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def runs(tmp_path_factory, solved_ppo_cartpole: Run, solved_r2d2_cartpole: Run) -> list[Path]:
    """The session's two CartPole runs (PPO and R2D2), seen through folders of the same name (a/cartpole,
    b/cartpole) as a user comparing two runs of one setting has them."""
    root = tmp_path_factory.mktemp("runs")
    logdirs = [root / "a" / "cartpole", root / "b" / "cartpole"]
    for logdir, run in zip(logdirs, (solved_ppo_cartpole, solved_r2d2_cartpole), strict=True):
        logdir.parent.mkdir()
        logdir.symlink_to(run.logdir, target_is_directory=True)
    return logdirs


def plot(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "seedrl.cli", "plot", *args]
    return subprocess.run(command, check=False, capture_output=True, text=True, timeout=60)


def assert_one_line_error(result: subprocess.CompletedProcess, message: str) -> None:
    assert result.returncode != 0
    assert result.stderr.startswith("seedrl plot: ") and message in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


@pytest.mark.slow
def test_plot_draws_two_real_runs_into_a_png_of_width_and_height_times_dpi(runs, tmp_path):
    assert all(read_run(logdir).train.returns.size >= 2 for logdir in runs)  # lines, not lone points
    output = tmp_path / "curves.png"
    size = ("--width", "8", "--height", "3", "--dpi", "80")
    result = plot(*map(str, runs), "-o", str(output), "--title", "CartPole", *size)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(output)
    assert output.read_bytes().startswith(PNG_SIGNATURE)
    assert matplotlib.image.imread(output).shape == (240, 640, 4)  # rows = 3 * 80, columns = 8 * 80, RGBA


@pytest.mark.slow
def test_the_default_png_is_1000_by_400_pixels(runs, tmp_path):
    output = tmp_path / "curves.png"
    assert plot(str(runs[0]), "-o", str(output)).returncode == 0
    assert matplotlib.image.imread(output).shape[:2] == (400, 1000)


def test_a_missing_run_folder_is_a_one_line_error(tmp_path):
    result = plot(str(tmp_path / "nope"), "-o", str(tmp_path / "curves.png"))
    assert_one_line_error(result, f"no such run folder: {tmp_path / 'nope'}")
    assert not (tmp_path / "curves.png").exists()


def test_a_run_folder_without_event_files_is_a_one_line_error(tmp_path):
    (tmp_path / "run" / "tensorboard").mkdir(parents=True)
    result = plot(str(tmp_path / "run"), "-o", str(tmp_path / "curves.png"))
    assert_one_line_error(result, "no TensorBoard event files")


def test_an_unknown_image_format_is_a_one_line_error(tmp_path):
    assert_one_line_error(plot(str(tmp_path), "-o", str(tmp_path / "curves.jpg")), "image format")


def test_without_matplotlib_the_error_names_the_extra_to_install(tmp_path):
    code = (
        "import sys; sys.modules['matplotlib'] = None; from seedrl.cli import main; "
        f"sys.exit(main(['plot', {str(tmp_path)!r}, '-o', {str(tmp_path / 'curves.png')!r}]))"
    )
    result = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60)
    assert_one_line_error(result, "matplotlib is not installed; install the plot extra: pip install 'seedrl[plot]'")
