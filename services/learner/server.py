"""The learner's gRPC service: handshakes, per-stream slot leases, steps and status.

Callers have been authenticated before a handler runs (`seedrl.learner.auth`). Within an
experiment, a stream's slots are bounded (`StreamLimits.max_envs_per_stream`), and an actor's
open stream can be replaced only by a Hello from the same peer (`auth.Peer`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import AsyncIterator, Callable

import grpc
import numpy as np
from google.protobuf.message import DecodeError

from seedrl.common import defaults, tensors
from seedrl.common import metrics as m
from seedrl.common.spaces import EnvSpec, spec_from_proto
from seedrl.learner.auth import Peer, peer_of
from seedrl.learner.batcher import BatchFailed, DeadlineBatcher
from seedrl.learner.inference import InferencePipeline
from seedrl.learner.requests import CLIPPED_FIELDS, REJECTION_REASONS, ProtocolError, StepDecoder, StepRequest
from seedrl.learner.slots import SlotsExhausted
from seedrl.v1 import learner_pb2 as pb
from seedrl.v1 import learner_pb2_grpc as pb_grpc

log = logging.getLogger(__name__)

MAX_ACTOR_ID_LENGTH = 128


@dataclass(frozen=True)
class StreamLimits:
    """How long a stream may stay silent, before and after its Hello, and how many envs it may lease."""

    idle_timeout_s: float = defaults.STREAM_IDLE_TIMEOUT_S
    hello_timeout_s: float = defaults.HELLO_TIMEOUT_S
    max_envs_per_stream: int | None = None  # None: as many as there are free slots


@dataclass
class Lease:
    """The slots one open stream holds, and who opened it."""

    actor_id: str
    run_id: int
    slots: np.ndarray
    peer: Peer
    task: asyncio.Task | None = field(default=None, repr=False)
    evicted: bool = False


class LearnerService(pb_grpc.LearnerServicer):
    """Serves `Act` streams through the batcher and answers `GetStatus`.

    A stream that says no Hello within `limits.hello_timeout_s`, or whose actor then sends
    nothing for `limits.idle_timeout_s` (a hung actor behind a live connection; dead
    connections are found sooner by gRPC keepalive), is ended with DEADLINE_EXCEEDED and its
    slots go back to the pool. If inference fails, every waiting stream is ended with
    UNAVAILABLE (the learner then stops as failed, to be restarted).
    """

    def __init__(
        self,
        experiment: str,
        spec: EnvSpec,
        pipeline: InferencePipeline,
        batcher: DeadlineBatcher[StepRequest, np.ndarray],
        metrics: m.Metrics,
        status: Callable[[], pb.LearnerStatus],
        learner_steps: Callable[[], int],
        limits: StreamLimits = StreamLimits(),
    ):
        self._experiment = experiment
        self._limits = limits
        self._spec = spec
        self._pipeline = pipeline
        self._batcher = batcher
        self._status = status
        self._learner_steps = learner_steps
        self._leases: dict[str, Lease] = {}
        self._streams = metrics(m.CONNECTED_STREAMS)
        self._leased = metrics(m.LEASED_SLOTS)
        self._rejected = {reason: metrics(m.REJECTED_MESSAGES, reason=reason) for reason in REJECTION_REASONS}
        clipped = {name: metrics(m.CLIPPED_VALUES, field=name) for name in CLIPPED_FIELDS}
        self._decoder = StepDecoder(spec, lambda name, count: clipped[name].inc(count))

    @property
    def open_streams(self) -> int:
        return len(self._leases)

    async def GetStatus(self, request: pb.StatusRequest, context: grpc.aio.ServicerContext) -> pb.LearnerStatus:
        return self._status()

    async def Act(
        self, request_iterator: AsyncIterator[pb.ActorMessage], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.LearnerMessage]:
        messages = aiter(request_iterator)
        first = await self._next(messages, context, self._limits.hello_timeout_s, "hello_timeout")
        if first is None:
            return
        lease = await self._open(first, context)
        try:
            yield pb.LearnerMessage(
                welcome=pb.Welcome(num_slots=len(lease.slots), experiment=self._experiment, learner_steps=self._learner_steps())
            )
            while (message := await self._next(messages, context, self._limits.idle_timeout_s, "idle_timeout")) is not None:
                if message.WhichOneof("kind") != "step":
                    await self._reject(context, ProtocolError("unexpected_message", "expected a StepBatch after Hello"))
                try:
                    request = self._decoder.decode(message.step, lease.run_id, lease.slots)
                except ProtocolError as error:
                    await self._reject(context, error)
                try:
                    actions = await self._batcher.submit(request, len(lease.slots))
                except BatchFailed as error:
                    await context.abort(grpc.StatusCode.UNAVAILABLE, f"the learner's inference failed ({error}); it restarts")
                yield pb.LearnerMessage(actions=pb.ActionBatch(actions=tensors.encode(actions)))
        except asyncio.CancelledError:
            if not lease.evicted:
                raise
            await context.abort(grpc.StatusCode.ABORTED, f"a newer stream of actor {lease.actor_id!r} replaced this one")
        finally:
            await asyncio.shield(self._close(lease))

    async def _next(
        self, messages: AsyncIterator[pb.ActorMessage], context: grpc.aio.ServicerContext, timeout_s: float,
        timeout_reason: str,
    ) -> pb.ActorMessage | None:
        """The stream's next message, None at its end; undecodable bytes and `timeout_s` of silence end the stream."""
        try:
            return await asyncio.wait_for(anext(messages), timeout_s)
        except StopAsyncIteration:
            return None
        except DecodeError as error:
            await self._reject(context, ProtocolError("undecodable", str(error)))
        except TimeoutError:
            self._rejected[timeout_reason].inc()
            what = "no Hello" if timeout_reason == "hello_timeout" else "no message"
            await context.abort(
                grpc.StatusCode.DEADLINE_EXCEEDED,
                f"{what} for {timeout_s:g} s: the stream is closed and its env slots reclaimed",
            )

    async def _reject(self, context: grpc.aio.ServicerContext, error: ProtocolError) -> None:
        await self._refuse(context, error.reason, grpc.StatusCode.INVALID_ARGUMENT, str(error))

    async def _open(self, message: pb.ActorMessage, context: grpc.aio.ServicerContext) -> Lease:
        """Check a Hello and lease slots for its environments."""
        if message.WhichOneof("kind") != "hello":
            await self._reject(context, ProtocolError("unknown_actor", "the first message of a stream must be a Hello"))
        hello = message.hello
        if not hello.actor_id or len(hello.actor_id) > MAX_ACTOR_ID_LENGTH:
            await self._reject(context, ProtocolError("actor_id", f"actor_id must have 1 to {MAX_ACTOR_ID_LENGTH} characters"))
        if hello.num_envs < 1:
            await self._reject(context, ProtocolError("num_envs", "num_envs must be at least 1"))
        share = self._limits.max_envs_per_stream
        if share is not None and hello.num_envs > share:
            await self._refuse(context, "stream_share", grpc.StatusCode.FAILED_PRECONDITION,
                               f"{hello.num_envs} envs on one stream; experiment {self._experiment!r} allows {share}")
        try:
            spec = spec_from_proto(hello.env_spec)
        except (ValueError, tensors.TensorDecodeError) as error:
            await self._reject(context, ProtocolError("env_spec", str(error)))
        differences = self._spec.differences(spec)
        if differences:
            await self._refuse(context, "env_spec", grpc.StatusCode.FAILED_PRECONDITION,
                               f"env spec does not match experiment {self._experiment!r}: " + "; ".join(differences))
        peer = peer_of(context)
        previous = self._leases.get(hello.actor_id)
        if previous is not None and previous.peer != peer:
            await self._refuse(context, "not_owner", grpc.StatusCode.ALREADY_EXISTS,
                               f"actor {hello.actor_id!r} has an open stream from another peer; only that peer can replace it")
        if previous is not None and previous.task is not None:
            log.info("actor %s reconnected (run %x): evicting its previous stream", hello.actor_id, hello.run_id)
            previous.evicted = True
            previous.task.cancel()
        try:
            slots = await self._batcher.run_exclusive(self._pipeline.lease, hello.num_envs, hello.evaluation)
        except SlotsExhausted as error:
            await self._refuse(context, "slots_exhausted", grpc.StatusCode.RESOURCE_EXHAUSTED, str(error))
        lease = Lease(hello.actor_id, hello.run_id, slots, peer, asyncio.current_task())
        self._leases[hello.actor_id] = lease
        self._batcher.stream_opened()
        self._update_gauges()
        log.info("actor %s connected from %s with %d%s envs", hello.actor_id, peer, hello.num_envs,
                 " evaluation" if hello.evaluation else "")
        return lease

    async def _refuse(self, context: grpc.aio.ServicerContext, reason: str, code: grpc.StatusCode, details: str) -> None:
        """End the stream with `code`, counting `reason` (one of REJECTION_REASONS)."""
        self._rejected[reason].inc()
        await context.abort(code, details)

    async def _close(self, lease: Lease) -> None:
        if self._leases.get(lease.actor_id) is lease:
            del self._leases[lease.actor_id]
        self._batcher.stream_closed()
        await self._batcher.run_exclusive(self._pipeline.release, lease.slots)
        self._update_gauges()
        log.info("actor %s disconnected", lease.actor_id)

    def _update_gauges(self) -> None:
        self._streams.set(len(self._leases))
        self._leased.set(self._pipeline.slots.leased)
