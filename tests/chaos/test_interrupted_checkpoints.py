"""A process SIGKILLed while it writes checkpoints never leaves an unloadable newest checkpoint."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from seedrl.common.checkpoint_files import list_checkpoints
from seedrl.learner.checkpoints import Checkpointer
from seedrl.learner.episodes import EpisodeStats

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Saves of a 64 MB variable, as fast as it can, until killed; each checkpoint's weights equal its step. It says
# "saved" once its first checkpoint is whole, and the kill comes that long after (a save takes about 0.3 s).
WRITER = """
import sys
from pathlib import Path
import tensorflow as tf
from seedrl.learner.checkpoints import Checkpointer
from seedrl.learner.episodes import EpisodeStats
weights = tf.Variable(tf.zeros([16, 2**20]))
stats = EpisodeStats()
checkpointer = Checkpointer(Path(sys.argv[1]), {"weights": weights}, stats, max_to_keep=2)
print("ready", flush=True)
for step in range(1, 10**6):
    weights.assign(tf.fill(weights.shape, float(step)))
    stats.frames = step
    checkpointer.save(step)
    if step == 1:
        print("saved", flush=True)
"""


@pytest.mark.parametrize("kill_after_s", [0.05, 0.4, 0.8])
def test_a_writer_killed_mid_save_leaves_a_checkpoint_that_restores(tmp_path, kill_after_s):
    directory = tmp_path / "checkpoints"
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(directory)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "ready"
    assert process.stdout.readline().strip() == "saved"
    time.sleep(kill_after_s)
    process.send_signal(signal.SIGKILL)
    process.wait(30)
    assert list_checkpoints(directory), "the checkpoint completed before the kill is gone"

    weights = tf.Variable(tf.zeros([16, 2**20]))
    stats = EpisodeStats()
    restored = Checkpointer(directory, {"weights": weights}, stats, max_to_keep=2).restore(None)
    step = int(restored.rsplit("-", 1)[1])
    assert step >= max(info.step for info in list_checkpoints(directory)) - 1
    assert stats.frames == step
    np.testing.assert_array_equal(weights.numpy()[:, :8], np.full((16, 8), float(step), np.float32))
