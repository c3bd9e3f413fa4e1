"""Fixtures for the Kubernetes runtime: the stand-in API store and stand-in learners serving real gRPC."""

from __future__ import annotations

import math
from concurrent import futures
from typing import Iterator

import grpc
import pytest

from seedrl.common import metrics as m
from seedrl.common.ports import free_port
from seedrl.controller.runtimes.kubernetes.options import KubernetesOptions
from seedrl.controller.runtimes.kubernetes.probe import GrpcLearnerProbe
from seedrl.controller.runtimes.kubernetes.runtime import KubernetesRuntime
from seedrl.v1 import learner_pb2 as pb
from seedrl.v1 import learner_pb2_grpc as pb_grpc
from tests.kubernetes.standin import StandInCluster


class StandInLearner(pb_grpc.LearnerServicer):
    """A learner's GetStatus over real gRPC, answering whatever status the test sets (no TensorFlow)."""

    def __init__(self) -> None:
        self.status = pb.LearnerStatus(mean_return_100=math.nan, last_checkpoint_step=-1)

    def GetStatus(self, request: pb.StatusRequest, context: grpc.ServicerContext) -> pb.LearnerStatus:
        return self.status


class Learners:
    """Stand-in learners by experiment name, each at a fixed address (as a learner's DNS name is);
    an experiment whose learner is not up has nothing listening there."""

    def __init__(self) -> None:
        self._servers: dict[str, grpc.Server] = {}
        self._ports: dict[str, int] = {}

    def serve(self, experiment: str) -> StandInLearner:
        servicer = StandInLearner()
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        pb_grpc.add_LearnerServicer_to_server(servicer, server)
        server.add_insecure_port(self.address(experiment))
        server.start()
        self._servers[experiment] = server
        return servicer

    def down(self, experiment: str) -> None:
        self._servers.pop(experiment).stop(None)

    def address(self, experiment: str) -> str:
        port = self._ports.setdefault(experiment, free_port())
        return f"127.0.0.1:{port}"

    def close(self) -> None:
        for name in list(self._servers):
            self.down(name)


@pytest.fixture
def cluster() -> StandInCluster:
    return StandInCluster()


@pytest.fixture
def learners() -> Iterator[Learners]:
    learners = Learners()
    yield learners
    learners.close()


@pytest.fixture
def runtime(cluster: StandInCluster, learners: Learners) -> Iterator[KubernetesRuntime]:
    probe = GrpcLearnerProbe(learners.address, timeout_s=1.0)
    yield KubernetesRuntime(cluster, KubernetesOptions(), m.Metrics("", "controller"), probe, max_active=2)
    probe.close()
