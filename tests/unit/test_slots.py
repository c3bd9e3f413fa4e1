"""Env-slot leases and per-slot state."""

import numpy as np
import pytest

from seedrl.learner.agents.base import FieldSpec
from seedrl.learner.slots import SlotsExhausted, SlotTable


def table(capacity=8):
    return SlotTable(capacity, (FieldSpec((3,), np.dtype(np.float32)),), FieldSpec((), np.dtype(np.int32)))


def test_leases_are_disjoint_and_released_slots_come_back_reset():
    slots = table()
    a, b = slots.lease(3), slots.lease(5)
    assert len(set(a) | set(b)) == 8 and slots.leased == 8
    with pytest.raises(SlotsExhausted):
        slots.lease(1)
    slots.state[0][a] = 7.0
    slots.episode_return[a] = 3.0
    slots.release(a)
    assert slots.leased == 5
    again = slots.lease(3)
    assert set(again) == set(a)
    assert (slots.state[0][again] == 0).all() and (slots.episode_return[again] == 0).all()
    assert (slots.episode_length[again] == -1).all()
