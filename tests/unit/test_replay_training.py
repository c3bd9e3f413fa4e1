"""The training thread on a replay: min fill, sampled batches trained on, priorities written back, configs checked."""

import time

import numpy as np
import pydantic
import pytest
import tensorflow as tf

from seedrl.common import metrics as m
from seedrl.spec.experiment import ExperimentSpec
from seedrl.learner.checkpoints import Checkpointer
from seedrl.learner.devices.acting import LiveActing
from seedrl.learner.episodes import EpisodeStats
from seedrl.learner.inference import unroll_fields
from seedrl.learner.replay.table import build_replay_table
from seedrl.learner.training import Trainer
from tests.unit.test_r2d2_agent import B, agent, random_unrolls
from tests.unit.test_tensors_and_specs import cartpole_spec


def test_the_trainer_samples_the_replay_trains_and_writes_new_priorities(tmp_path):
    r2d2 = agent(target_update_period=1000)
    metrics = m.Metrics("t", "learner")
    table = build_replay_table(r2d2, unroll_fields(r2d2, cartpole_spec()), metrics, seed=0)
    rng = np.random.default_rng(0)
    for _ in range(3):
        table.put(random_unrolls(rng))
    acting_priorities = table.replay.priorities(np.arange(3 * B)).copy()
    stats = EpisodeStats()
    trainer = Trainer(
        r2d2, table, stats, EpisodeStats(), Checkpointer(tmp_path, r2d2.checkpoint_items(), stats, 1), metrics,
        LiveActing(r2d2), tf.summary.create_noop_writer(), total_frames=10**9, checkpoint_every_s=3600, summary_every_s=3600,
    )
    trainer.start()
    try:
        deadline = time.monotonic() + 60
        while r2d2.steps < 5 and time.monotonic() < deadline:
            trainer.join(0.1)
    finally:
        trainer.stop()
        trainer.join(10)
    assert trainer.error is None and r2d2.steps >= 5
    sampled = metrics.registry.get_sample_value("seedrl_replay_sampled_unrolls_total", {"experiment": "t", "role": "learner"})
    assert sampled == r2d2.steps * B
    # Trained unrolls got the learner's priorities instead of the ones computed while acting.
    assert np.sum(table.replay.priorities(np.arange(3 * B)) != acting_priorities) >= B


@pytest.mark.parametrize("fields, location", [
    ({"agent": "r2d2", "r2d2": {"unroll_length": 10, "burn_in": 10}}, ("r2d2", "burn_in")),
    ({"agent": "r2d2", "r2d2": {"unroll_length": 4, "n_steps": 5, "burn_in": 0}}, ("r2d2", "n_steps")),
    ({"agent": "r2d2", "r2d2": {"replay": {"capacity": -5}}}, ("r2d2", "replay", "capacity")),
    ({"agent": "r2d2", "r2d2": {"replay": {"capacity": 100, "min_fill": 200}}}, ("r2d2", "replay", "min_fill")),
    ({"agent": "sac", "sac": {"batch_size": 256, "replay": {"min_fill": 100}}}, ("sac", "replay")),
    ({"agent": "sac", "sac": {"replay": {"replay_ratio": 0}}}, ("sac", "replay", "replay_ratio")),
    ({"agent": "sac", "sac": {"target_smoothing": 1.5}}, ("sac", "target_smoothing")),
])
def test_nonsense_hyperparameters_are_refused_naming_the_field(fields, location):
    with pytest.raises(pydantic.ValidationError) as error:
        ExperimentSpec(name="x", env="gym:CartPole-v1", **fields)
    assert any(e["loc"][: len(location)] == location for e in error.value.errors()), error.value.errors()
