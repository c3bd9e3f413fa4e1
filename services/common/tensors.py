"""Tensor codec: NumPy arrays <-> `seedrl.v1.Tensor` (dtype, shape, raw bytes).

Decoding is one `np.frombuffer` over the message's bytes (no copy); the result is
read-only and aliases the message, so keep the message alive while using it.
"""

from __future__ import annotations

import math

import numpy as np

from seedrl.v1 import learner_pb2 as pb

# Every dtype the protocol carries. Anything else is refused on decode.
ALLOWED_DTYPES = frozenset(
    ["bool", "uint8", "int8", "int16", "uint16", "int32", "int64", "float16", "float32", "float64"]
)


class TensorDecodeError(ValueError):
    """A Tensor message is malformed: unknown dtype, bad shape or wrong byte count."""


def encode(array: np.ndarray, out: pb.Tensor | None = None) -> pb.Tensor:
    """Write `array` (any shape) into `out` (or a new Tensor) as little-endian raw bytes."""
    array = np.asarray(array)
    if array.dtype.name not in ALLOWED_DTYPES:
        raise TypeError(f"dtype {array.dtype.name} cannot travel; allowed: {sorted(ALLOWED_DTYPES)}")
    if array.dtype.byteorder == ">":
        array = array.astype(array.dtype.newbyteorder("<"))
    tensor = pb.Tensor() if out is None else out
    tensor.dtype = array.dtype.name
    tensor.shape[:] = array.shape
    tensor.data = np.ascontiguousarray(array).tobytes()
    return tensor


def decode(tensor: pb.Tensor) -> np.ndarray:
    """Return the array a Tensor message holds, without copying its bytes.

    Raises:
      TensorDecodeError: the dtype is not allowed, a dimension is negative, or the
        byte count does not equal prod(shape) * itemsize.
    """
    if tensor.dtype not in ALLOWED_DTYPES:
        raise TensorDecodeError(f"dtype {tensor.dtype!r} is not allowed")
    shape = tuple(tensor.shape)
    if any(d < 0 for d in shape):
        raise TensorDecodeError(f"negative dimension in shape {shape}")
    dtype = np.dtype(tensor.dtype).newbyteorder("<")
    expected = math.prod(shape) * dtype.itemsize
    if len(tensor.data) != expected:
        raise TensorDecodeError(
            f"shape {shape} of {tensor.dtype} needs {expected} bytes, got {len(tensor.data)}"
        )
    return np.frombuffer(tensor.data, dtype=dtype).reshape(shape)
