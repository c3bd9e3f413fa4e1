"""An actor's channel connects to a learner that has just come up, at its first attempt (real gRPC sockets)."""

from __future__ import annotations

import asyncio
import time

import grpc

from seedrl.common.grpc_options import channel_options
from seedrl.common.ports import free_port

REFUSED_S = 4.0  # long enough for gRPC's own reconnect backoff to pass a second


async def attempt(address: str) -> None:
    """One call on a new channel, as an actor's session makes it; raises the call's error."""
    async with grpc.aio.insecure_channel(address, options=channel_options(4)) as channel:
        await channel.unary_unary("/seedrl.Test/Call")(b"", timeout=5)


async def first_attempt_after_refusals() -> grpc.StatusCode:
    """Attempts every 0.1 s at a port nothing listens on, for REFUSED_S, each error kept (as the actor keeps
    its last session's); then a server starts there, and the status of the next attempt."""
    address = f"127.0.0.1:{free_port()}"
    errors = []
    started = time.monotonic()
    while time.monotonic() - started < REFUSED_S:
        try:
            await attempt(address)
        except grpc.aio.AioRpcError as error:
            errors.append(error)
        await asyncio.sleep(0.1)
    assert errors and all(error.code() == grpc.StatusCode.UNAVAILABLE for error in errors)
    server = grpc.aio.server()
    server.add_insecure_port(address)
    await server.start()
    try:
        await attempt(address)
    except grpc.aio.AioRpcError as error:
        return error.code()
    finally:
        await server.stop(None)
    raise AssertionError("a server without services answered a call")


def test_a_channel_reaches_a_learner_that_came_up_after_refusing_it():
    """UNIMPLEMENTED: the call reached the server (which serves nothing). With gRPC's process-wide
    connections it failed UNAVAILABLE from the backoff of the refused ones."""
    assert asyncio.run(first_attempt_after_refusals()) == grpc.StatusCode.UNIMPLEMENTED
