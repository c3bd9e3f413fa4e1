"""Checkpoints that cannot be written (the disk refuses the bytes) are reported and training carries on;
a final checkpoint that cannot be written makes the run end as failed, not as stopped.

The learner runs under a file-size limit (RLIMIT_FSIZE): the operating system refuses every write
past it (EFBIG), as a full disk refuses them (ENOSPC). Its checkpoints are larger than the limit;
its logs and summaries are not.
"""

from __future__ import annotations

import resource
import signal
import subprocess

import pytest

from seedrl.common.ports import free_port
from tests.integration.helpers import metric, read_summary, seedrl, status, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FILE_LIMIT_BYTES = 256 * 1024  # a 256x256 MLP's checkpoint, with Adam's moments, is about 1 MB


def limit_file_size() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_LIMIT_BYTES, FILE_LIMIT_BYTES))


def test_failed_checkpoint_writes_are_counted_training_continues_and_a_lost_final_one_fails_the_run(tmp_path):
    port, metrics_port = free_port(), free_port()
    secret = tmp_path / "secret"
    process = seedrl(
        "train", "--env", "gym:CartPole-v1", "--actors", "1", "--envs-per-actor", "8",
        "--network.hidden-sizes", "256", "256", "--checkpoint.every-s", "1", "--total-frames", str(10**9),
        "--max-seconds", "120", "--port", str(port), "--metrics-port", str(metrics_port), "--logdir", str(tmp_path),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=limit_file_size,
    )
    try:
        wait_for(lambda: (s := status(port, secret)) is not None and s.learner_steps > 0, timeout=120, what="training")
        wait_for(lambda: metric(metrics_port, "seedrl_checkpoint_failures_total") >= 3, timeout=60,
                 what="three failed checkpoints")
        steps = status(port, secret).learner_steps
        wait_for(lambda: status(port, secret).learner_steps > steps + 50, timeout=30, what="training going on")
        assert metric(metrics_port, "seedrl_checkpoint_saves_total") == 0
        assert process.poll() is None
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(120)
    log = (tmp_path / "logs" / "learner.log").read_text()
    assert "failed, training continues" in log and "training failed" not in log
    assert not list((tmp_path / "checkpoints").glob("ckpt-*.index"))  # no checkpoint pretends to be complete
    # Stopped on request, but what it learned is lost: reported as a failure, with the cause.
    reason = read_summary(tmp_path)["stop_reason"]
    assert code == 1 and reason.startswith("failed: stopped, but the final checkpoint could not be written"), reason
    assert "File too large" in reason or "EFBIG" in reason or "too large" in reason.lower(), reason
