"""Export a checkpoint's policy as a TensorFlow SavedModel for serving outside the learner."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import tensorflow as tf

from seedrl.envs.describe import env_spec
from seedrl.learner.agents import build_agent
from seedrl.spec.learner import LearnerConfig


def export_saved_model(config: LearnerConfig, checkpoint: Path, out_dir: Path) -> Path:
    """Write the policy of `checkpoint` (a path without suffix, e.g. `.../ckpt-1200`) to `out_dir`.

    The agent is built as the learner builds it, so `config` must be the learner's. The
    SavedModel's `serving_default` signature is the agent's `serve` (see
    `Agent.serving_module`): for the V-trace agent it takes `observation` [B, *obs_shape]
    (plus `done` [B] bool and `state_0`, `state_1` [B, lstm_size] float32 with an LSTM) and
    returns `action` [B], `greedy_action` [B], `logits` [B, A], `value` [B] (plus the new
    `state_0`, `state_1`).

    The model is written to a temporary directory beside `out_dir` and renamed into place,
    so `out_dir` only ever holds a complete export. Returns `out_dir`.

    Raises:
      FileNotFoundError: `checkpoint` does not exist.
      FileExistsError: `out_dir` already exists.
    """
    if not Path(f"{checkpoint}.index").is_file():
        raise FileNotFoundError(f"no checkpoint {checkpoint} (expected {checkpoint}.index)")
    if out_dir.exists():
        raise FileExistsError(f"export directory {out_dir} already exists")
    agent = build_agent(config, env_spec(config.env, config.env_options))
    # Learner checkpoints also hold the progress counters: match them so that every saved
    # value is accounted for (assert_consumed) and a mismatched network fails loudly.
    counters = {name: tf.Variable(0, dtype=tf.int64, trainable=False) for name in ("frames", "episodes")}
    tf.train.Checkpoint(**agent.checkpoint_items(), **counters).restore(str(checkpoint)).assert_consumed()
    module = agent.serving_module()

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        tf.saved_model.save(module, str(tmp), signatures={"serving_default": module.serve})
        tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir
