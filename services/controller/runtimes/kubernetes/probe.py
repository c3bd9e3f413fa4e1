"""Asking a learner how it is doing: its gRPC GetStatus, from inside the cluster."""

from __future__ import annotations

from typing import Callable, Protocol

import grpc

from seedrl.v1 import learner_pb2 as pb
from seedrl.v1 import learner_pb2_grpc as pb_grpc


class LearnerProbe(Protocol):
    def status(self, experiment: str) -> pb.LearnerStatus | None:
        """The learner's status, or None if it does not answer."""

    def forget(self, experiment: str) -> None:
        """Drop what is kept for the experiment (its learner went away)."""


class GrpcLearnerProbe:
    """GetStatus over one cached channel per experiment; `address(experiment)` is host:port."""

    def __init__(self, address: Callable[[str], str], timeout_s: float = 2.0):
        self._address = address
        self._timeout_s = timeout_s
        self._channels: dict[str, grpc.Channel] = {}

    def status(self, experiment: str) -> pb.LearnerStatus | None:
        channel = self._channels.get(experiment)
        if channel is None:
            channel = self._channels[experiment] = grpc.insecure_channel(self._address(experiment))
        try:
            return pb_grpc.LearnerStub(channel).GetStatus(pb.StatusRequest(), timeout=self._timeout_s)
        except grpc.RpcError:
            self.forget(experiment)  # the next call resolves the name afresh (a new pod has a new IP)
            return None

    def forget(self, experiment: str) -> None:
        channel = self._channels.pop(experiment, None)
        if channel is not None:
            channel.close()

    def close(self) -> None:
        for experiment in list(self._channels):
            self.forget(experiment)
