"""Unrolls with burn-in: burn_in + T + 1 consecutive steps, consecutive unrolls overlapping by burn_in + 1."""

import numpy as np
import pytest

from seedrl.learner.agents.base import FieldSpec
from seedrl.learner.unrolls import UnrollAssembler

FIELDS = {"t": FieldSpec((), np.dtype(np.int64)), "slot": FieldSpec((), np.dtype(np.int32))}
STATE = (FieldSpec((2,), np.dtype(np.float32)),)


@pytest.mark.parametrize("burn_in, t_len", [(0, 4), (3, 4), (2, 5), (0, 1)])
def test_unrolls_start_every_t_steps_hold_burn_in_plus_t_plus_one_and_store_their_first_state(burn_in, t_len):
    rng = np.random.default_rng(burn_in * 10 + t_len)
    capacity = 5
    assembler = UnrollAssembler(capacity, t_len, FIELDS, STATE, burn_in=burn_in)
    counters = np.zeros(capacity, np.int64)
    starts: dict[int, list[int]] = {slot: [] for slot in range(capacity)}
    versions: dict[int, list[int]] = {slot: [] for slot in range(capacity)}
    for version in range(300):
        slots = rng.choice(capacity, size=rng.integers(1, capacity + 1), replace=False).astype(np.int32)
        state = np.stack([counters[slots], -counters[slots]], axis=1).astype(np.float32)
        out = assembler.append(slots, {"t": counters[slots].copy(), "slot": slots}, (state,), policy_version=version)
        counters[slots] += 1
        if out is None:
            continue
        assert out.steps["t"].shape[1] == burn_in + t_len + 1
        for i in range(len(out)):
            t = out.steps["t"][i]
            (slot,) = set(out.steps["slot"][i].tolist())
            np.testing.assert_array_equal(np.diff(t), 1)
            np.testing.assert_array_equal(out.initial_state[0][i], [t[0], -t[0]])
            starts[slot].append(int(t[0]))
            versions[slot].append(int(out.policy_version[i]))
    for slot in range(capacity):
        assert len(starts[slot]) >= 5
        assert starts[slot] == [k * t_len for k in range(len(starts[slot]))]
        assert versions[slot] == sorted(versions[slot])  # the version step 0 of each unroll was acted with


def test_burn_in_must_be_shorter_than_the_unroll():
    with pytest.raises(ValueError, match="burn_in"):
        UnrollAssembler(2, 4, FIELDS, STATE, burn_in=4)
