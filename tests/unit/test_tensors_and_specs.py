"""Tensor codec and env specs: round trips, zero-copy decoding and clear refusals."""

import dataclasses

import numpy as np
import pytest

from seedrl.envs.describe import env_spec
from seedrl.common import tensors
from seedrl.common.spaces import BoxSpace, DiscreteSpace, spec_from_proto, spec_to_proto
from seedrl.v1 import learner_pb2 as pb


@pytest.mark.parametrize("dtype", ["float32", "uint8", "int32", "bool", "int64", "float64"])
def test_tensors_round_trip_every_dtype_and_shape(dtype):
    array = (np.arange(24).reshape(2, 3, 4) % 2).astype(dtype)
    decoded = tensors.decode(pb.Tensor.FromString(tensors.encode(array).SerializeToString()))
    assert decoded.dtype == array.dtype and decoded.shape == array.shape
    np.testing.assert_array_equal(decoded, array)


def test_decoding_does_not_copy_the_bytes():
    message = tensors.encode(np.zeros((64, 84, 84), np.uint8))
    decoded = tensors.decode(message)
    assert not decoded.flags.owndata and not decoded.flags.writeable


@pytest.mark.parametrize(
    "message, reason",
    [
        (pb.Tensor(dtype="complex64", shape=[1], data=b"\0" * 8), "not allowed"),
        (pb.Tensor(dtype="float32", shape=[2, 2], data=b"\0" * 15), "needs 16 bytes"),
        (pb.Tensor(dtype="float32", shape=[-1], data=b""), "negative"),
        (pb.Tensor(dtype="", shape=[], data=b""), "not allowed"),
    ],
)
def test_malformed_tensors_are_refused(message, reason):
    with pytest.raises(tensors.TensorDecodeError, match=reason):
        tensors.decode(message)


def cartpole_spec(**changes):
    """The real CartPole-v1 spec, with `changes` applied."""
    return dataclasses.replace(env_spec("gym:CartPole-v1"), **changes)


def test_specs_round_trip_through_the_wire_format():
    spec = cartpole_spec()
    back = spec_from_proto(pb.EnvSpec.FromString(spec_to_proto(spec).SerializeToString()))
    assert spec.differences(back) == []
    assert "Box(shape=(4,), dtype=float32" in repr(back) and "Discrete(n=2)" in repr(back)


def test_spec_differences_name_what_differs():
    spec = cartpole_spec()
    other = cartpole_spec(
        env_id="gym:Acrobot-v1",
        observation_space=BoxSpace((6,), "float32", np.zeros(6, np.float32), np.ones(6, np.float32)),
        action_space=DiscreteSpace(3),
    )
    found = " ".join(spec.differences(other))
    assert "env_id 'gym:Acrobot-v1'" in found and "shape (6,) != (4,)" in found and "Discrete(n=3)" in found
    high = spec.observation_space.high.copy()
    high[2] = 1.0
    bounds = cartpole_spec(observation_space=BoxSpace((4,), "float32", spec.observation_space.low, high))
    assert spec.differences(bounds) == [f"observation_space: high[2] 1.0 != {spec.observation_space.high[2]}"]
