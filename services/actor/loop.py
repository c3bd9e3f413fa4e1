"""The actor loop: step environment groups, stream them to the learner, reconnect when it goes away.

The actor's K environments are split into `streams` groups, each with its own
stream to the learner. While one group's step is on the wire (or in the learner's
batch), the actor steps the next group: with two groups, env work and the round
trip overlap (double buffering).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time

import grpc
import numpy as np

from seedrl.common.backoff import Backoff
from seedrl.actor.client import HandshakeRefused, LearnerStream
from seedrl.spec.actor import ActorConfig
from seedrl.envs.batch import EnvBatch
from seedrl.common import learner_channel
from seedrl.common import metrics as m
from seedrl.common.credentials import CredentialsError, LearnerClient
from seedrl.common.files import write_atomically
from seedrl.common.grpc_options import channel_options
from seedrl.v1 import learner_pb2 as pb
from seedrl.v1 import learner_pb2_grpc as pb_grpc

log = logging.getLogger(__name__)

HANDSHAKE_TIMEOUT_S = 30.0

# Statuses after which reconnecting cannot help: the learner refuses this actor as configured.
PERMANENT_ERRORS = frozenset(
    [
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.UNAUTHENTICATED,
    ]
)


class ActorRefused(RuntimeError):
    """The learner refused this actor, or the actor cannot present the credentials it needs: retrying cannot help."""


def make_groups(config: ActorConfig) -> list[EnvBatch]:
    """The actor's environments split into `config.streams` groups of (nearly) equal size."""
    bounds = np.linspace(0, config.envs_per_actor, config.streams + 1).astype(int)
    return [
        EnvBatch.make(config.env, int(hi - lo), seed=config.seed + int(lo), options=config.env_options)
        for lo, hi in zip(bounds, bounds[1:])
    ]


class Actor:
    """Steps the config's environments and streams them to the learner `client` describes."""

    def __init__(self, config: ActorConfig, metrics: m.Metrics, client: LearnerClient):
        self._config = config
        self._client = client
        self._groups = make_groups(config)
        self._spec = self._groups[0].spec(config.env)
        self._run_id = random.getrandbits(64)
        self._backoff = Backoff(config.backoff_initial_s, config.backoff_max_s)
        self._steps = metrics(m.ACTOR_ENV_STEPS)
        self._episodes = metrics(m.ACTOR_EPISODES)
        self._round_trip = metrics(m.ACTOR_ROUND_TRIP)
        self._reconnects = metrics(m.ACTOR_RECONNECTS)

    async def run(self, stop: asyncio.Event) -> None:
        """Stream until `stop` is set, reconnecting with backoff whenever the learner goes away.

        Raises:
          ActorRefused: the learner refused the handshake or a message (not retryable).
        """
        while not stop.is_set():
            session = asyncio.ensure_future(self._session())
            stopped = asyncio.ensure_future(stop.wait())
            await asyncio.wait({session, stopped}, return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            if not session.done():
                session.cancel()
                await asyncio.gather(session, return_exceptions=True)
                return
            error = session.exception()
            if isinstance(error, grpc.aio.AioRpcError):
                if error.code() in PERMANENT_ERRORS:
                    raise ActorRefused(f"{error.code().name}: {error.details()}") from error
                log.warning("learner stream lost (%s: %s)", error.code().name, error.details())
            elif isinstance(error, (ConnectionError, HandshakeRefused)):
                log.warning("learner stream lost (%s)", error)
            elif error is not None:
                raise error
            self._reconnects.inc()
            try:
                await asyncio.wait_for(stop.wait(), self._backoff.next())
            except TimeoutError:
                pass

    async def _session(self) -> None:
        """One connection: handshake every group, then step and stream until the stream breaks."""
        config = self._config
        async with learner_channel.aio_channel(self._client, channel_options(config.max_message_mb)) as channel:
            stub = pb_grpc.LearnerStub(channel)
            # Credentials first, on a unary call: a stream the learner refuses before reading its Hello can
            # report INTERNAL instead of UNAUTHENTICATED to an asyncio client that wrote it (grpc/grpc#36066).
            await stub.GetStatus(pb.StatusRequest(), metadata=self._client.metadata, timeout=HANDSHAKE_TIMEOUT_S)
            streams = [
                await LearnerStream.open(
                    stub, f"{config.actor_id}/{g}", self._run_id, len(group), self._spec, config.evaluation,
                    self._client.metadata,
                )
                for g, group in enumerate(self._groups)
            ]
            self._backoff.reset()
            log.info("connected to %s with %d streams", config.learner, len(streams))
            sent_at = []
            for stream, group in zip(streams, self._groups):
                await stream.send(group.reset())  # every (re)connection starts fresh episodes
                sent_at.append(time.perf_counter())
            while True:
                for g, (stream, group) in enumerate(zip(streams, self._groups)):
                    actions = await stream.receive()
                    self._round_trip.observe(time.perf_counter() - sent_at[g])
                    result = group.step(actions)
                    self._steps.inc(len(group))
                    if len(result.episode_returns):
                        self._episodes.inc(len(result.episode_returns))
                    await stream.send(result)
                    sent_at[g] = time.perf_counter()

    def close(self) -> None:
        for group in self._groups:
            group.close()


def learner_client(config: ActorConfig) -> LearnerClient:
    """How this actor reaches its learner (its secret read now); warns when it presents no secret.

    Raises:
      ActorRefused: a credentials file is missing, unreadable or too open.
    """
    try:
        client = config.auth.client(config.learner)
    except CredentialsError as error:
        raise ActorRefused(str(error)) from error
    if client.secret is None:
        log.warning("no --auth.secret-file: this actor presents no secret; only an unauthenticated learner serves it")
    return client


def run_actor(config: ActorConfig) -> None:
    """Run an actor process until SIGTERM/SIGINT."""
    import signal

    client = learner_client(config)
    metrics = m.Metrics(config.experiment, "actor")
    if config.metrics_port >= 0:
        port = metrics.serve(config.metrics_port, config.metrics_host)
        log.info("actor metrics on port %d", port)
        if config.metrics_port_file is not None:
            write_atomically(config.metrics_port_file, str(port))
    actor = Actor(config, metrics, client)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await actor.run(stop)

    try:
        asyncio.run(main())
    finally:
        actor.close()
