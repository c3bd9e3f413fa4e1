"""gRPC channel and server options that actors and the learner agree on: message sizes and keepalive.

Keepalive finds dead connections (a node lost, a NAT entry dropped) that TCP alone can take
many minutes to notice: each side pings after KEEPALIVE_TIME_MS without traffic, and gives
the connection up when a ping goes unanswered for KEEPALIVE_TIMEOUT_MS. The learner then
ends the streams on it and reclaims their slots; the actor reconnects with backoff. The
server accepts pings as often as every MIN_PING_INTERVAL_MS, so the clients' pings never
count as abuse (which would make the server close the connection with ENHANCE_YOUR_CALM).

An actor's channel keeps its connections to itself (`grpc.use_local_subchannel_pool`). gRPC otherwise
shares them between the channels of a process, with their reconnect backoff: a new channel to a
learner that refused earlier attempts (one still starting, or restarting) failed at once, for up to
seconds after the learner was up, whatever the actor's own backoff said.
"""

from __future__ import annotations

KEEPALIVE_TIME_MS = 20_000
KEEPALIVE_TIMEOUT_MS = 10_000
MIN_PING_INTERVAL_MS = 10_000

Options = list[tuple[str, int]]


def _message_sizes(max_message_mb: float) -> Options:
    size = int(max_message_mb * 2**20)
    return [("grpc.max_receive_message_length", size), ("grpc.max_send_message_length", size)]


def _keepalive() -> Options:
    return [
        ("grpc.keepalive_time_ms", KEEPALIVE_TIME_MS),
        ("grpc.keepalive_timeout_ms", KEEPALIVE_TIMEOUT_MS),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
    ]


def server_options(max_message_mb: float) -> Options:
    """Options of the learner's server."""
    return [
        *_message_sizes(max_message_mb), *_keepalive(),
        ("grpc.http2.min_ping_interval_without_data_ms", MIN_PING_INTERVAL_MS),
        ("grpc.http2.min_recv_ping_interval_without_data_ms", MIN_PING_INTERVAL_MS),
    ]


def channel_options(max_message_mb: float) -> Options:
    """Options of an actor's channel to the learner."""
    return [*_message_sizes(max_message_mb), *_keepalive(), ("grpc.use_local_subchannel_pool", 1)]
