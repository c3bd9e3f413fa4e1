"""Unroll assembly: T+1 steps, one-step overlap, episode ends and discarded partial unrolls."""

import numpy as np

from seedrl.learner.agents.base import FieldSpec
from seedrl.learner.unrolls import UnrollAssembler

FIELDS = {
    "t": FieldSpec((), np.dtype(np.int64)),  # the slot's global step counter
    "terminated": FieldSpec((), np.dtype(bool)),
    "truncated": FieldSpec((), np.dtype(bool)),
}
STATE = (FieldSpec((2,), np.dtype(np.float32)),)


def step(slots, counters, terminated=None, truncated=None):
    n = len(slots)
    return {
        "t": counters[slots].copy(),
        "terminated": np.zeros(n, bool) if terminated is None else terminated,
        "truncated": np.zeros(n, bool) if truncated is None else truncated,
    }


def test_unrolls_are_contiguous_and_overlap_by_one_step_across_random_interleavings():
    rng = np.random.default_rng(0)
    capacity, t_len = 6, 4
    fields = {**FIELDS, "slot": FieldSpec((), np.dtype(np.int32))}
    assembler = UnrollAssembler(capacity, t_len, fields, STATE)
    counters = np.zeros(capacity, np.int64)
    emitted = {slot: [] for slot in range(capacity)}
    for version in range(200):
        slots = rng.choice(capacity, size=rng.integers(1, capacity + 1), replace=False).astype(np.int32)
        state = np.stack([counters[slots], -counters[slots]], axis=1).astype(np.float32)
        out = assembler.append(slots, {**step(slots, counters), "slot": slots}, (state,), policy_version=version)
        counters[slots] += 1
        if out is None:
            continue
        for i in range(len(out)):
            t = out.steps["t"][i]
            (slot,) = set(out.steps["slot"][i].tolist())  # one slot per unroll
            np.testing.assert_array_equal(np.diff(t), 1)  # T+1 consecutive steps of that slot
            # The state stored for the unroll is the one its step 0 was acted on with.
            np.testing.assert_array_equal(out.initial_state[0][i], [t[0], -t[0]])
            emitted[slot].append(t)
    assert all(len(unrolls) >= 10 for unrolls in emitted.values())
    for slot, unrolls in emitted.items():
        starts = [int(u[0]) for u in unrolls]
        assert starts == [k * t_len for k in range(len(unrolls))], slot  # next starts where one ended


def test_episode_end_flags_are_kept_apart_inside_an_unroll():
    assembler = UnrollAssembler(1, 2, FIELDS, ())
    slots = np.array([0], np.int32)
    counters = np.zeros(1, np.int64)
    flags = [(False, False), (True, False), (False, True)]
    out = None
    for term, trunc in flags:
        out = assembler.append(slots, step(slots, counters, np.array([term]), np.array([trunc])), (), 0)
        counters += 1
    np.testing.assert_array_equal(out.steps["terminated"][0], [False, True, False])
    np.testing.assert_array_equal(out.steps["truncated"][0], [False, False, True])


def test_reset_discards_a_partial_unroll_and_records_the_policy_version():
    assembler = UnrollAssembler(2, 3, FIELDS, ())
    slots = np.array([0], np.int32)
    counters = np.zeros(2, np.int64)
    for _ in range(2):
        assert assembler.append(slots, step(slots, counters), (), policy_version=1) is None
        counters[slots] += 1
    assembler.reset(slots)
    outs = []
    for version in range(10, 14):
        outs.append(assembler.append(slots, step(slots, counters), (), policy_version=version))
        counters[slots] += 1
    finished = [o for o in outs if o is not None]
    assert len(finished) == 1
    np.testing.assert_array_equal(finished[0].steps["t"][0], [2, 3, 4, 5])  # nothing from before the reset
    assert finished[0].policy_version.tolist() == [10]
