"""The learner's hot path with a real V-trace agent: routing, episodes, truncation values, unrolls."""

import threading
import time

import numpy as np
import pytest

from seedrl.common import metrics as m
from seedrl.learner.agents.base import StepInputs
from seedrl.learner.agents.vtrace.agent import VTraceAgent
from seedrl.spec.vtrace import VTraceConfig
from seedrl.learner.devices.acting import LiveActing
from seedrl.learner.episodes import EpisodeStats
from seedrl.learner.inference import InferencePipeline
from seedrl.spec.network import NetworkConfig
from seedrl.learner.requests import StepRequest
from seedrl.learner.unroll_queue import UnrollQueue
from tests.unit.test_tensors_and_specs import cartpole_spec


@pytest.fixture(params=[0, 8], ids=["mlp", "lstm"])
def pipeline(request):
    agent = VTraceAgent(cartpole_spec(), VTraceConfig(unroll_length=2), total_frames=1000, network=NetworkConfig(lstm_size=request.param))
    queue = UnrollQueue(batch_size=50)
    stats = EpisodeStats()
    pipe = InferencePipeline(agent, cartpole_spec(), 16, queue, stats, EpisodeStats(), m.Metrics("test", "learner"), LiveActing(agent, lambda: 7))
    return pipe, agent, queue, stats


def test_evaluation_slots_act_greedily_stay_out_of_training_and_report_their_own_return():
    agent = VTraceAgent(cartpole_spec(), VTraceConfig(unroll_length=2), total_frames=1000)
    queue, stats, eval_stats = UnrollQueue(batch_size=50), EpisodeStats(), EpisodeStats()
    pipe = InferencePipeline(agent, cartpole_spec(), 16, queue, stats, eval_stats, m.Metrics("t", "learner"), LiveActing(agent, lambda: 0))
    train, evaluation = pipe.lease(3), pipe.lease(4, evaluation=True)
    obs = np.random.default_rng(0).normal(size=(4, 4)).astype(np.float32) * 3
    greedy = agent.act(first_step(obs), ()).greedy_action
    for _ in range(20):  # greedy actions are the same every time; sampled ones would differ
        _, eval_actions = pipe.process([request(train, [0, 0, 0]), request(evaluation, [0] * 4, obs=obs)])
        assert eval_actions.tolist() == greedy.tolist()
    pipe.process([request(train, [1, 1, 1]), request(evaluation, [5] * 4)])
    pipe.process([request(train, [1, 1, 1], terminated=[True, False, False]), request(evaluation, [5] * 4, terminated=[True] * 4)])
    assert (stats.episodes, eval_stats.episodes) == (1, 4)
    assert stats.recent_returns.tolist() == [2.0] and eval_stats.mean_return == 10.0
    assert stats.frames == 19 * 3 + 6  # training envs only: 21 steps after the reset row
    # Only the three training slots filled unrolls.
    assert len(queue) == 3 * 10  # 22 rows per slot: an unroll every T=2 rows after the first



def first_step(obs, done=True, reward=0.0):
    """StepInputs for N rows of `obs` with no previous action (previous action 0)."""
    n = len(obs)
    return StepInputs(obs, np.full(n, done), np.zeros(n, np.int32), np.full(n, reward, np.float32), np.arange(n, dtype=np.int32))


def request(slots, rewards, terminated=None, truncated=None, obs=None, final_indices=(), final_obs=None):
    k = len(slots)
    final_indices = np.asarray(final_indices, np.int32)
    return StepRequest(
        slots=slots, rewards=np.asarray(rewards, np.float32),
        terminated=np.zeros(k, bool) if terminated is None else np.asarray(terminated),
        truncated=np.zeros(k, bool) if truncated is None else np.asarray(truncated),
        observations=np.random.default_rng(len(slots)).normal(size=(k, 4)).astype(np.float32) if obs is None else obs,
        final_indices=final_indices,
        final_observations=np.zeros((len(final_indices), 4), np.float32) if final_obs is None else final_obs,
    )


def test_actions_are_routed_to_each_request_and_episodes_are_counted(pipeline):
    pipe, agent, queue, stats = pipeline
    a, b = pipe.lease(3), pipe.lease(2)
    actions = pipe.process([request(a, [0, 0, 0]), request(b, [0, 0])])  # reset observations
    assert [x.shape for x in actions] == [(3,), (2,)]
    assert stats.frames == 0  # reset rows are not environment steps
    pipe.process([request(a, [1, 1, 1]), request(b, [2, 2])])
    pipe.process([request(a, [1, 1, 1], terminated=[True, False, False]), request(b, [2, 2], truncated=[False, True], final_indices=[1])])
    assert stats.frames == 10 and stats.episodes == 2
    assert sorted(stats.recent_returns.tolist()) == [2.0, 4.0]
    # Three rows per slot make one unroll (T=2) for each of the five slots.
    unrolls = queue.get_batch(5, timeout=1)
    assert unrolls.steps["observation"].shape == (5, 3, 4)
    assert unrolls.policy_version.tolist() == [7] * 5
    # Each step carries the action sent before it: the previous step's action within an unroll.
    np.testing.assert_array_equal(unrolls.steps["prev_action"][:, 1:], unrolls.steps["action"][:, :-1])


def test_truncated_envs_get_the_value_of_their_final_observation(pipeline):
    pipe, agent, queue, stats = pipeline
    slots = pipe.lease(2)
    pipe.process([request(slots, [0, 0])])
    pipe.process([request(slots, [1, 1])])
    state_before = tuple(component[slots].copy() for component in pipe.slots.state)
    final_obs = np.array([[0.3, -0.2, 0.1, 0.4]], np.float32)
    pipe.process([request(slots, [1, 1], truncated=[False, True], final_indices=[1], final_obs=final_obs)])
    expected = agent.act(first_step(final_obs, done=False, reward=1.0), tuple(s[1:2] for s in state_before)).value
    unrolls = queue.get_batch(2, timeout=1)
    truncation_value = unrolls.steps["truncation_value"]
    row = int(np.flatnonzero(unrolls.steps["truncated"][:, 2])[0])
    np.testing.assert_allclose(truncation_value[row, 2], expected[0], rtol=1e-5)
    assert truncation_value[1 - row].tolist() == [0, 0, 0]


def test_recurrent_state_is_kept_per_slot_and_reset_at_episode_starts():
    agent = VTraceAgent(cartpole_spec(), VTraceConfig(unroll_length=4), total_frames=1000, network=NetworkConfig(lstm_size=8))
    pipe = InferencePipeline(agent, cartpole_spec(), 8, UnrollQueue(batch_size=50), EpisodeStats(), EpisodeStats(), m.Metrics("t", "learner"), LiveActing(agent, lambda: 0))
    slots = pipe.lease(2)
    pipe.process([request(slots, [0, 0])])
    before = tuple(component[slots].copy() for component in pipe.slots.state)
    assert np.abs(before[0]).sum() > 0
    obs = np.ones((2, 4), np.float32)
    pipe.process([request(slots, [1, 1], terminated=[True, False], obs=obs)])
    after = pipe.slots.state[0][slots]
    zeros = tuple(np.zeros((1, 8), np.float32) for _ in before)
    from_zero = agent.act(first_step(obs[:1]), zeros).state[0][0]
    carried = agent.act(first_step(obs[1:], done=False, reward=1.0), tuple(s[1:] for s in before)).state[0][0]
    np.testing.assert_allclose(after[0], from_zero, rtol=1e-5)  # episode start: state reset
    np.testing.assert_allclose(after[1], carried, rtol=1e-5)  # same episode: state carried
    assert not np.allclose(from_zero, carried)


def test_batches_overlap_in_the_model_call_and_a_slot_is_released_only_after_its_batch():
    """Two threads process batches of different streams at once (as with two inference devices);
    releasing a slot waits for the batch that holds it to finish."""
    agent = VTraceAgent(cartpole_spec(), VTraceConfig(unroll_length=2), total_frames=1000)
    live = LiveActing(agent, lambda: 0)
    in_model, proceed = threading.Barrier(2, timeout=5), threading.Event()

    class Gated:
        def act(self, inputs, state):
            in_model.wait()  # both batches are inside the model call together
            proceed.wait(5)
            return live.act(inputs, state)

        def refresh(self, steps):
            pass

    queue = UnrollQueue(batch_size=50)
    pipe = InferencePipeline(agent, cartpole_spec(), 8, queue, EpisodeStats(), EpisodeStats(), m.Metrics("t", "learner"), Gated())
    first, second = pipe.lease(2), pipe.lease(3)
    results, released = {}, threading.Event()
    workers = [threading.Thread(target=lambda s=s: results.setdefault(len(s), pipe.process([request(s, [0] * len(s))])))
               for s in (first, second)]
    for worker in workers:
        worker.start()
    releaser = threading.Thread(target=lambda: (pipe.release(first), released.set()))
    time.sleep(0.2)  # both batches reach the model call (a batch alone there would fail at the barrier)
    releaser.start()
    assert not released.wait(0.3)  # `first` is still in flight
    proceed.set()
    for thread in (*workers, releaser):
        thread.join(5)
    assert released.is_set()
    assert [len(results[2][0]), len(results[3][0])] == [2, 3]
    assert pipe.slots.leased == 3
