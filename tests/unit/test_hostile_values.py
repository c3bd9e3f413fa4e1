"""Finite but absurd values of every dtype an observation space can have, through the learner's whole path.

Each StepBatch is decoded by the learner's `StepDecoder` (refusing or clipping, and counting),
then served by a real V-trace agent's inference and trained on: actions, losses and gradients
must stay finite. Before values were bounded, rewards of 3e38 made a return of 1.2e39 that
TensorFlow could not write into a float32 summary, and the trainer died.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from seedrl.common import metrics as m
from seedrl.common import tensors
from seedrl.common.spaces import BoxSpace, DiscreteSpace, EnvSpec
from seedrl.learner.agents.vtrace.agent import VTraceAgent
from seedrl.learner.devices.acting import LiveActing
from seedrl.learner.episodes import EpisodeStats
from seedrl.learner.inference import InferencePipeline
from seedrl.learner.requests import OBSERVATION_LIMIT, REWARD_LIMIT, ObservationBounds, ProtocolError, StepDecoder
from seedrl.learner.checkpoints import Checkpointer
from seedrl.learner.training import Trainer, time_major
from seedrl.learner.unroll_queue import UnrollQueue
from seedrl.spec.vtrace import VTraceConfig
from seedrl.v1 import learner_pb2 as pb
from tests.integration.helpers import scalars

K, T = 4, 2
INTEGERS = ("uint8", "int8", "int16", "uint16", "int32", "int64")
FLOATS = ("float16", "float32", "float64")


def box(dtype: str) -> BoxSpace:
    """A 3-element box of `dtype`: a bounded element, an unbounded one (the dtype's range or infinite), and a wide one."""
    if dtype == "bool":
        return BoxSpace((3,), dtype, np.zeros(3, bool), np.ones(3, bool))
    if dtype in FLOATS:
        return BoxSpace((3,), dtype, np.array([-1, -np.inf, 0], dtype), np.array([1, np.inf, 1000], dtype))
    info = np.iinfo(dtype)
    return BoxSpace((3,), dtype, np.array([0, info.min, info.min], dtype), np.array([5, info.max, 100], dtype))


def env_spec(space) -> EnvSpec:
    return EnvSpec("test:Hostile-v0", space, DiscreteSpace(2))


def extremes(dtype: str) -> list[float]:
    """The most hostile finite values of `dtype`."""
    if dtype == "bool":
        return [0, 1]
    info = np.finfo(dtype) if dtype in FLOATS else np.iinfo(dtype)
    return [info.min, info.max, 0, *([info.tiny, -info.tiny] if dtype in FLOATS else [])]


def message(observations: np.ndarray, rewards: np.ndarray, terminated: np.ndarray) -> pb.StepBatch:
    step = pb.StepBatch(run_id=1)
    for name, value in (("rewards", rewards), ("terminated", terminated), ("truncated", np.zeros(len(rewards), bool)),
                        ("observations", observations)):
        tensors.encode(value, getattr(step, name))
    return step


SPACES = [box(dtype) for dtype in ("bool", *INTEGERS, *FLOATS)] + [DiscreteSpace(6, start=-2)]
# Through inference and training: one space of each kind the networks convert differently.
TRAINED = [space for space in SPACES if getattr(space, "dtype", "int64") in ("bool", "uint8", "int64", "float16", "float64")]


def hostile_steps(spec: EnvSpec, count: int) -> list[pb.StepBatch]:
    """`count` StepBatches of K envs: the dtype's extreme observations, rewards of +-3.4e38, episodes of 3 steps."""
    values, rng, huge = extremes(spec.observation_dtype.name), np.random.default_rng(0), np.finfo(np.float32).max
    rewards = np.array([huge, -huge, REWARD_LIMIT * 10, 1.0], np.float32)
    return [
        message(rng.choice(values, size=(K, *spec.observation_shape)).astype(spec.observation_dtype), rewards,
                np.full(K, i % 3 == 2))
        for i in range(count)
    ]


@pytest.mark.parametrize("space", SPACES, ids=[repr(s) for s in SPACES])
def test_extreme_values_of_every_dtype_are_clipped_to_the_bounds_and_counted(space):
    spec = env_spec(space)
    clipped: dict[str, int] = {"rewards": 0, "observations": 0}
    decoder = StepDecoder(spec, lambda field, count: clipped.__setitem__(field, clipped[field] + count))
    bounds = ObservationBounds.of(spec)
    outside = 0
    for step in hostile_steps(spec, 10):
        request = decoder.decode(step, 1, np.arange(K))
        sent = tensors.decode(step.observations)
        if bounds.low is not None:
            assert (request.observations >= bounds.low).all() and (request.observations <= bounds.high).all()
            outside += int(((sent < bounds.low) | (sent > bounds.high)).sum())
        np.testing.assert_array_equal(request.observations == sent, (sent >= bounds.low) & (sent <= bounds.high)
                                      if bounds.low is not None else True)
        assert np.abs(request.observations.astype(np.float64)).max() <= max(OBSERVATION_LIMIT, 255)
        assert np.abs(request.rewards).max() == REWARD_LIMIT and request.rewards[3] == 1.0
    assert clipped == {"rewards": 3 * 10, "observations": outside}


@pytest.mark.parametrize("space", TRAINED, ids=[repr(s) for s in TRAINED])
def test_extreme_values_served_and_trained_on_keep_actions_losses_and_weights_finite(space):
    spec = env_spec(space)
    decoder = StepDecoder(spec)
    agent = VTraceAgent(spec, VTraceConfig(unroll_length=T, batch_size=K), total_frames=10**6)
    queue = UnrollQueue(batch_size=K, batches=100)
    pipe = InferencePipeline(agent, spec, K, queue, EpisodeStats(), EpisodeStats(), m.Metrics("t", "learner"),
                             LiveActing(agent, lambda: 0))
    slots = pipe.lease(K)
    for step in hostile_steps(spec, T + 1):
        (actions,) = pipe.process([decoder.decode(step, 1, slots)])
        assert set(actions.tolist()) <= {0, 1}
    metrics = agent.train(time_major(queue.get_batch(K, timeout=1)), frames=100)
    assert all(np.isfinite(value) for value in metrics.values()), metrics
    assert all(np.isfinite(v.numpy()).all() for v in agent.checkpoint_items()["network"].trainable_variables)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_observations_are_refused(dtype, bad):
    spec = env_spec(box(dtype))
    observations = np.zeros((K, 3), dtype)
    observations[2, 1] = bad
    with pytest.raises(ProtocolError) as raised:
        StepDecoder(spec).decode(message(observations, np.zeros(K, np.float32), np.zeros(K, bool)), 1, np.arange(K))
    assert raised.value.reason == "observations"


def test_values_inside_the_bounds_are_passed_as_they_are_without_a_copy():
    spec = env_spec(box("float32"))
    observations = np.array([[0.5, -1e5, 999.0]] * K, np.float32)
    step = message(observations, np.full(K, -REWARD_LIMIT, np.float32), np.zeros(K, bool))
    counted = []
    request = StepDecoder(spec, lambda field, count: counted.append(field)).decode(step, 1, np.arange(K))
    np.testing.assert_array_equal(request.observations, observations)
    assert not request.observations.flags.writeable  # still the message's bytes
    assert counted == []


def test_pixels_and_bools_need_no_clipping():
    for space in (BoxSpace((2, 2), "uint8", np.zeros((2, 2), np.uint8), np.full((2, 2), 255, np.uint8)), box("bool")):
        assert ObservationBounds.of(env_spec(space)).low is None


def test_training_summaries_take_any_finite_value(tmp_path):
    """A mean return beyond float32's range (what rewards of 3e38 once made) is summarised, not raised on: the
    trainer hands TensorFlow float64 tensors, and TensorBoard stores the float32 of it (inf); converting the
    Python float to a float32 tensor itself raised, and the trainer died."""
    spec = env_spec(box("float32"))
    agent = VTraceAgent(spec, VTraceConfig(unroll_length=T, batch_size=K), total_frames=10**6)
    stats = EpisodeStats()
    stats.record(np.array([1.2e39, 1.2e39]), np.array([5, 5]))
    trainer = Trainer(
        agent, UnrollQueue(batch_size=K, batches=10), stats, EpisodeStats(),
        Checkpointer(tmp_path / "checkpoints", agent.checkpoint_items(), stats, max_to_keep=1), m.Metrics("t", "learner"),
        LiveActing(agent, lambda: 0), tf.summary.create_file_writer(str(tmp_path / "tensorboard")),
        total_frames=10**6, checkpoint_every_s=60, summary_every_s=1,
    )
    trainer._summarise({"loss/policy": 3e38 * 10, "gradient_norm": 1.0, "learning_rate": 1e-3}, 0.0, step=1)
    assert scalars(tmp_path / "tensorboard", "seedrl_episode_return_mean") == [np.inf]
    assert scalars(tmp_path / "tensorboard", "seedrl_loss/policy") == [np.inf]
    assert scalars(tmp_path / "tensorboard", "seedrl_learning_rate") == [pytest.approx(1e-3)]
