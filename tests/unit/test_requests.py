"""StepBatch validation: every malformed message is refused with a bounded reason."""

import numpy as np
import pytest

from seedrl.common import tensors
from seedrl.learner.requests import ProtocolError, StepDecoder
from tests.unit.test_tensors_and_specs import cartpole_spec
from seedrl.v1 import learner_pb2 as pb

RUN_ID = 1234
SLOTS = np.array([5, 9, 2], np.int32)


def decode_step(message, run_id, slots, spec):
    return StepDecoder(spec).decode(message, run_id, slots)


def good_step(**overrides):
    arrays = dict(
        rewards=np.ones(3, np.float32), terminated=np.array([False, True, False]),
        truncated=np.array([False, False, True]), observations=np.zeros((3, 4), np.float32),
        final_indices=np.array([2], np.int32), final_observations=np.ones((1, 4), np.float32),
    )
    arrays.update(overrides)
    step = pb.StepBatch(run_id=RUN_ID)
    for name, value in arrays.items():
        if value is not None:
            tensors.encode(value, getattr(step, name))
    return step


def test_a_well_formed_step_decodes():
    request = decode_step(good_step(), RUN_ID, SLOTS, cartpole_spec())
    np.testing.assert_array_equal(request.slots, SLOTS)
    np.testing.assert_array_equal(request.final_indices, [2])
    assert request.observations.shape == (3, 4)


@pytest.mark.parametrize(
    "overrides, reason",
    [
        (dict(rewards=np.ones(2, np.float32)), "shape"),  # slot count differs from the lease
        (dict(rewards=np.ones(3, np.float64)), "dtype"),
        (dict(observations=np.zeros((3, 5), np.float32)), "shape"),
        (dict(observations=np.zeros((3, 4), np.uint8)), "dtype"),
        (dict(terminated=None), "missing_field"),
        (dict(rewards=np.array([1, np.nan, 0], np.float32)), "rewards"),
        (dict(final_indices=np.array([1], np.int32)), "final_indices"),
        (dict(final_indices=None, final_observations=None), "final_indices"),
        (dict(final_observations=np.ones((2, 4), np.float32)), "shape"),
    ],
)
def test_malformed_steps_are_refused(overrides, reason):
    with pytest.raises(ProtocolError) as raised:
        decode_step(good_step(**overrides), RUN_ID, SLOTS, cartpole_spec())
    assert raised.value.reason == reason


def test_a_step_from_another_run_is_refused():
    with pytest.raises(ProtocolError) as raised:
        decode_step(good_step(), RUN_ID + 1, SLOTS, cartpole_spec())
    assert raised.value.reason == "run_id"


def test_corrupt_tensor_bytes_are_refused():
    step = good_step()
    step.observations.data = step.observations.data[:-3]
    with pytest.raises(ProtocolError) as raised:
        decode_step(step, RUN_ID, SLOTS, cartpole_spec())
    assert raised.value.reason == "bad_tensor"
