"""Prioritized replay: sum-tree sampling frequencies, importance weights, ring overwrite, priority updates."""

import numpy as np
import pytest

from seedrl.learner.agents.base import FieldSpec
from seedrl.learner.replay.buffer import PrioritizedReplay
from seedrl.learner.replay.sum_tree import SumTree
from seedrl.learner.unrolls import Unrolls

FIELDS = {"id": FieldSpec((), np.dtype(np.int64)), "obs": FieldSpec((3,), np.dtype(np.float32))}
STATE = (FieldSpec((2,), np.dtype(np.float32)),)
LENGTH = 4


def unrolls(ids) -> Unrolls:
    ids = np.asarray(ids, np.int64)
    return Unrolls(
        {"id": np.repeat(ids[:, None], LENGTH, axis=1),
         "obs": np.broadcast_to(ids[:, None, None], (len(ids), LENGTH, 3)).astype(np.float32)},
        (np.stack([ids, -ids], axis=1).astype(np.float32),),
        ids * 10,
    )


def replay(capacity, alpha=1.0, beta=1.0, seed=0) -> PrioritizedReplay:
    return PrioritizedReplay(capacity, LENGTH, FIELDS, STATE, alpha, beta, seed=seed)


@pytest.mark.parametrize("capacity", [1, 5, 8, 1000])
def test_sum_tree_nodes_sum_their_leaves_after_batched_updates_with_repeats(capacity):
    rng = np.random.default_rng(capacity)
    tree, reference = SumTree(capacity), np.zeros(capacity)
    for _ in range(50):
        indices = rng.integers(0, capacity, size=rng.integers(1, 20))
        values = rng.random(len(indices)) * 10
        tree.set(indices, values)
        for i, v in zip(indices, values):  # the reference: a plain loop, last write wins
            reference[i] = v
        assert tree.total == pytest.approx(reference.sum())
        np.testing.assert_allclose(tree.get(np.arange(capacity)), reference)


def test_find_maps_each_prefix_sum_to_the_item_owning_it_and_never_to_an_empty_item():
    tree = SumTree(6)
    priorities = np.array([1.0, 0.0, 2.0, 0.0, 0.5, 0.0])
    tree.set(np.arange(6), priorities)
    edges = np.cumsum(priorities)
    u = np.array([0.0, 0.999, 1.0, 2.9999, 3.0, 3.4999, 3.5 - 1e-12])
    expected = np.searchsorted(edges, u, side="right")  # independent reference
    np.testing.assert_array_equal(tree.find(u), expected)
    # Rounding at the very top never lands on an item of priority 0.
    assert set(tree.find(np.full(10, tree.total)).tolist()) == {4}


def test_sampling_frequencies_match_priorities_chi_square():
    capacity = 37
    rng = np.random.default_rng(1)
    priorities = rng.random(capacity) ** 2
    priorities[[3, 17]] = 0.0
    tree = SumTree(capacity)
    tree.set(np.arange(capacity), priorities)
    draws = 200_000
    counts = np.bincount(tree.sample(draws, np.random.default_rng(2)), minlength=capacity)
    assert counts[[3, 17]].sum() == 0
    nonzero = priorities > 0
    expected = draws * priorities[nonzero] / priorities.sum()
    statistic = float(((counts[nonzero] - expected) ** 2 / expected).sum())
    assert statistic < chi_square_critical(df=int(nonzero.sum()) - 1)


def chi_square_critical(df: int, z: float = 3.09) -> float:
    """The chi-square value exceeded with probability ~0.001 (Wilson-Hilferty; z is the normal 0.999 quantile)."""
    return df * (1 - 2 / (9 * df) + z * (2 / (9 * df)) ** 0.5) ** 3


def test_priority_exponent_shapes_the_sampling_distribution_and_weights_correct_it():
    alpha, beta = 0.7, 0.5
    buffer = replay(8, alpha, beta, seed=3)
    priorities = np.array([1.0, 2.0, 3.0, 4.0, 0.5, 8.0, 1.5, 2.5])
    buffer.insert(unrolls(np.arange(8)), priorities)
    sample = buffer.sample(100_000)
    scaled = priorities**alpha
    probability = scaled / scaled.sum()
    frequency = np.bincount(sample.indices, minlength=8) / len(sample.indices)
    np.testing.assert_allclose(frequency, probability, atol=4e-3)
    # w_i = (N P(i))^-beta / max w over the batch; the rarest item sampled has weight 1.
    expected = (8 * probability[sample.indices]) ** -beta
    np.testing.assert_allclose(sample.weights, expected / expected.max(), rtol=1e-5)
    # The sampled rows carry their own data.
    np.testing.assert_array_equal(sample.unrolls.steps["id"][:, 0], sample.indices)
    np.testing.assert_array_equal(sample.unrolls.initial_state[0][:, 1], -sample.indices)
    np.testing.assert_array_equal(sample.unrolls.policy_version, sample.indices * 10)


def test_exponent_zero_samples_uniformly_with_unit_weights():
    buffer = replay(4, alpha=0.0, beta=0.0)
    buffer.insert(unrolls(np.arange(4)), np.array([0.1, 100.0, 3.0, 0.0]))
    sample = buffer.sample(40_000)
    np.testing.assert_allclose(np.bincount(sample.indices) / 40_000, 0.25, atol=0.01)
    np.testing.assert_array_equal(sample.weights, 1.0)


def test_a_full_replay_overwrites_its_oldest_unrolls_and_reports_its_memory():
    buffer = replay(5)
    assert len(buffer) == 0 and buffer.nbytes == 0
    buffer.insert(unrolls([0, 1, 2]), np.ones(3))
    buffer.insert(unrolls([3, 4, 5, 6]), np.ones(4))
    assert len(buffer) == 5 and buffer.inserted == 7
    held = set(buffer.sample(2000).unrolls.steps["id"][:, 0].tolist())
    assert held == {2, 3, 4, 5, 6}
    # One unroll: 4 int64 ids + 4x3 float32 obs + 2 float32 state + version + key + two tree nodes.
    assert buffer.item_bytes == 4 * 8 + 12 * 4 + 2 * 4 + 8 + 8 + 16
    assert buffer.nbytes == 5 * buffer.item_bytes
    # More unrolls than the capacity at once: only the newest survive.
    buffer.insert(unrolls(np.arange(100, 112)), np.ones(12))
    assert set(buffer.sample(2000).unrolls.steps["id"][:, 0].tolist()) == {107, 108, 109, 110, 111}


def test_priority_updates_apply_only_to_rows_still_holding_the_sampled_unroll():
    buffer = replay(3, alpha=1.0)
    buffer.insert(unrolls([0, 1, 2]), np.ones(3))
    sample = buffer.sample(3)
    buffer.insert(unrolls([3]), np.ones(1))  # overwrites row 0
    updated = buffer.update_priorities(sample.indices, sample.keys, np.full(3, 5.0))
    stale = sample.indices == 0
    assert updated == int((~stale).sum())
    np.testing.assert_allclose(buffer.priorities(sample.indices[~stale]), 5.0)
    assert buffer.priorities(np.array([0]))[0] == 1.0


def test_nonfinite_priorities_are_refused():
    buffer = replay(3)
    with pytest.raises(ValueError, match="finite"):
        buffer.insert(unrolls([0]), np.array([np.nan]))
