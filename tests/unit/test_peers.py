"""The peer runner: Sample Factory's progress read from its log, a run stopped when it solves or stalls, with its
worker processes. A stand-in program (tests/unit/fake_sample_factory.py) logs as Sample Factory does: Sample
Factory itself needs its own virtualenv and minutes of CPU, which `make bench-peers` spends."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from benchmarks.peers.compare import ratio
from benchmarks.time_to_solve import with_flag
from benchmarks.peers.sample_factory import PeerRun, Progress, Task, run_peer
from benchmarks.peers.venv import REQUIREMENTS, ready

FAKE = Task("fake", "tests.unit.fake_sample_factory", (), solve_return=475.0)
LOG = """[2026-12-04 09:25:07,798][19737] Fps is (10 sec: nan, 60 sec: nan, 300 sec: nan). Total num frames: 0. \
Throughput: 0: nan. Samples: 120. Policy #0 lag: (min: -1.0, avg: -1.0, max: -1.0)
[2026-12-04 09:25:07,798][19737] Avg episode reward: [(0, 'nan')]
[2026-12-04 09:25:12,742][19737] Fps is (10 sec: 207.1, 60 sec: 207.1, 300 sec: 207.1). Total num frames: 1024. \
Throughput: 0: 260.9. Samples: 1410. Policy #0 lag: (min: 0.0, avg: 0.0, max: 0.0)
[2026-12-04 09:25:12,742][19737] Avg episode reward: [(0, '19.193')]
[2026-12-04 09:25:17,738][19737] Fps is (10 sec: 309.1, 60 sec: 309.1, 300 sec: 309.1). Total num frames: 3072. \
Throughput: 0: 401.4. Samples: 4110. Policy #0 lag: (min: 0.0, avg: 1.0, max: 2.0)
[2026-12-04 09:25:17,738][19737] Avg episode reward: [(0, '-20.500')]"""


def test_progress_reads_frames_and_mean_returns_from_sample_factorys_log():
    progress = Progress()
    for seconds, line in zip((5.0, 5.0, 10.0, 10.0, 15.0, 15.0), LOG.splitlines()):
        progress.read(seconds, line)
    assert progress.frames == [(5.0, 0), (10.0, 1024), (15.0, 3072)]
    assert progress.returns == [(10.0, 19.193), (15.0, -20.5)]  # `nan` before the first episode is skipped
    assert progress.first_frames() == 10.0
    assert progress.frames_at(12.0) == 1024 and progress.solved_at(19.0) == 10.0 and progress.solved_at(20) is None
    assert progress.rate(10.0, 15.0) == pytest.approx(2048 / 5)
    run = PeerRun(FAKE, 16.0, progress, 0)
    assert run.training_fps == pytest.approx(2048 / 5)  # from the first report of frames: start-up left out
    assert run.fps == pytest.approx(3072 / 15)  # from launch
    assert PeerRun(FAKE, 6.0, Progress(frames=[(5.0, 0), (6.0, 100)]), 0).training_fps is None  # one report


@pytest.fixture
def worker_pid_file(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("FAKE_SF_WORKER_PID", str(tmp_path / "worker.pid"))
    return tmp_path / "worker.pid"


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().rsplit(")", 1)[1].split()[0] == "Z")


@pytest.mark.slow
def test_a_run_stops_when_it_reports_the_solve_return_and_its_workers_go_with_it(worker_pid_file):
    run = run_peer(FAKE, seed=0, max_seconds=20.0, python=Path(sys.executable))
    worker = worker_pid_file
    assert run.best_return == 500.0  # 100 per report: the fifth report is the first >= 475
    assert run.frames_to_solve == 5000
    assert run.time_to_solve == pytest.approx(run.progress.returns[4][0])
    assert 0.8 <= run.time_to_solve < 10 and run.seconds < 15
    assert run.fps == pytest.approx(5000 / run.progress.frames[-1][0])
    deadline = time.monotonic() + 5
    while alive(int(worker.read_text())) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(int(worker.read_text()))


@pytest.mark.slow
def test_a_run_that_stops_making_frames_shows_its_stall_and_ends_at_its_time_limit(worker_pid_file):
    never = Task("fake", FAKE.module, ("--stall",), solve_return=None)
    run = run_peer(never, seed=0, max_seconds=3.0, python=Path(sys.executable))
    assert run.time_to_solve is None and run.frames_to_solve is None
    assert 2.9 <= run.seconds < 8
    assert run.progress.frames[-1][1] == 3000
    assert run.progress.longest_stall() >= 1.5  # frames stopped growing after 0.6 s


def test_ratios_and_settings():
    assert ratio(30.0, 60.0) == 0.5 and ratio(None, 60.0) is None and ratio(30.0, None) is None
    args = ["--env", "gym:CartPole-v1", "--envs-per-actor", "16", "--seed", "1"]
    assert with_flag(args, "--envs-per-actor", 64) == ["--env", "gym:CartPole-v1", "--envs-per-actor", "64", "--seed", "1"]
    with pytest.raises(ValueError):
        with_flag(args, "--agent", "ppo")


def test_a_venv_counts_as_ready_only_when_built_with_these_requirements(tmp_path):
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "python").write_text("")
    assert not ready(tmp_path)
    (tmp_path / ".seedrl-requirements").write_text("\n".join(REQUIREMENTS[:-1]))
    assert not ready(tmp_path)
    (tmp_path / ".seedrl-requirements").write_text("\n".join(REQUIREMENTS) + "\n")
    assert ready(tmp_path)
