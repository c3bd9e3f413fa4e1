"""The learner's readiness through a real gRPC server: NOT_SERVING until it serves, and again when it stops."""

import asyncio

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from seedrl.learner.readiness import SERVICES, Readiness


def test_readiness_follows_the_learner_state():
    async def scenario() -> list[list[int]]:
        readiness = Readiness()
        server = grpc.aio.server()
        await readiness.add_to(server)
        port = server.add_insecure_port("localhost:0")
        await server.start()
        seen = []
        async with grpc.aio.insecure_channel(f"localhost:{port}") as channel:
            stub = health_pb2_grpc.HealthStub(channel)

            async def statuses() -> list[int]:
                return [(await stub.Check(health_pb2.HealthCheckRequest(service=s))).status for s in SERVICES]

            seen.append(await statuses())
            await readiness.set(True)
            seen.append(await statuses())
            await readiness.set(False)
            seen.append(await statuses())
        await server.stop(None)
        return seen

    serving, not_serving = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING
    assert asyncio.run(scenario()) == [[not_serving] * 2, [serving] * 2, [not_serving] * 2]
