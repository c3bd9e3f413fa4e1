"""The learner's readiness as the standard gRPC health service (grpc.health.v1).

Kubernetes asks it with a `grpc` readiness probe on the learner's port. The learner is
SERVING from the moment its server accepts streams until it stops or its training thread
fails; NOT_SERVING otherwise, so that a Service stops sending actors to it.
"""

from __future__ import annotations

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

# The whole server ("") and the actor-facing service by name.
SERVICES = ("", "seedrl.v1.Learner")


class Readiness:
    """Health statuses of the learner's services: NOT_SERVING from `add_to` until `set(True)`."""

    def __init__(self) -> None:
        self._servicer = health.aio.HealthServicer()

    async def add_to(self, server: grpc.aio.Server) -> None:
        """Serve the health service on `server`, NOT_SERVING for now."""
        health_pb2_grpc.add_HealthServicer_to_server(self._servicer, server)
        await self.set(False)

    async def set(self, serving: bool) -> None:
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for service in SERVICES:
            await self._servicer.set(service, status)
