"""A real actor process against a real learner: its metrics, and reconnecting when the learner restarts."""

from __future__ import annotations

import subprocess
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from seedrl.common.ports import free_port
from tests.integration.helpers import seedrl, status, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def learner(port, logdir):
    return seedrl(
        "learner", "--port", str(port), "--logdir", str(logdir), "--checkpoint.every-s", "1",
        "--vtrace.unroll-length", "8", "--vtrace.batch-size", "4", "--total-frames", "100000000",
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def actor_samples(metrics_port):
    text = urllib.request.urlopen(f"http://localhost:{metrics_port}/metrics", timeout=5).read().decode()
    return {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples if s.labels.get("role") == "actor"}


def test_an_actor_reconnects_after_the_learner_restarts_and_progress_is_kept(tmp_path):
    port, metrics_port = free_port(), free_port()
    first = learner(port, tmp_path)
    actor = seedrl(
        "actor", "--learner", f"localhost:{port}", "--envs-per-actor", "8", "--metrics-port", str(metrics_port),
        "--backoff-max-s", "0.5", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    second = None
    try:
        wait_for(lambda: (s := status(port)) and s.last_checkpoint_step > 0 and s.frames > 5_000, 120, what="checkpoint")
        samples = actor_samples(metrics_port)
        assert samples["seedrl_actor_env_steps_total"] > 0
        assert samples["seedrl_actor_round_trip_seconds_count"] > 0
        assert samples["seedrl_actor_episodes_total"] > 0

        first.kill()  # SIGKILL: no final checkpoint
        first.wait()
        second = learner(port, tmp_path)
        restored = wait_for(lambda: status(port), 120, what="restarted learner")
        assert restored.frames > 0  # counters came back from the checkpoint
        wait_for(lambda: (s := status(port)) and s.connected_streams == 2 and s.frames > restored.frames, 60,
                 what="actor reconnected and streaming")
        assert actor.poll() is None  # the actor survived the learner's restart
        assert actor_samples(metrics_port)["seedrl_actor_reconnects_total"] >= 1
    finally:
        for process in (actor, first, second):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(60)
