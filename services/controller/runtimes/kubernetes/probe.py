"""Asking a learner how it is doing: its gRPC GetStatus, from inside the cluster, with the experiment's secret."""

from __future__ import annotations

import logging
from typing import Callable, Protocol

import grpc

from seedrl.common import learner_channel
from seedrl.common.credentials import LearnerClient
from seedrl.v1 import learner_pb2 as pb
from seedrl.v1 import learner_pb2_grpc as pb_grpc

log = logging.getLogger(__name__)


class LearnerProbe(Protocol):
    def status(self, experiment: str, secret: str | None) -> pb.LearnerStatus | None:
        """The learner's status, asked with the experiment's `secret`, or None if it does not answer."""

    def forget(self, experiment: str) -> None:
        """Drop what is kept for the experiment (its learner went away)."""


class GrpcLearnerProbe:
    """GetStatus over one cached channel per experiment; `address(experiment)` is host:port. Each call
    presents the experiment's secret as call metadata, as the actors do (the learner refuses a call
    without it as UNAUTHENTICATED, which reads here as not answering)."""

    def __init__(self, address: Callable[[str], str], timeout_s: float = 2.0):
        self._address = address
        self._timeout_s = timeout_s
        self._channels: dict[str, grpc.Channel] = {}

    def status(self, experiment: str, secret: str | None) -> pb.LearnerStatus | None:
        client = LearnerClient(self._address(experiment), secret)
        channel = self._channels.get(experiment)
        if channel is None:
            channel = self._channels[experiment] = learner_channel.channel(client)
        try:
            return pb_grpc.LearnerStub(channel).GetStatus(pb.StatusRequest(), timeout=self._timeout_s,
                                                         metadata=client.metadata)
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.UNAUTHENTICATED:
                log.warning("the learner of %s refused the status call: %s", experiment, error.details())
            self.forget(experiment)  # the next call resolves the name afresh (a new pod has a new IP)
            return None

    def forget(self, experiment: str) -> None:
        channel = self._channels.pop(experiment, None)
        if channel is not None:
            channel.close()

    def close(self) -> None:
        for experiment in list(self._channels):
            self.forget(experiment)
