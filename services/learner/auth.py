"""Who may call the learner: the experiment's secret checked before a handler runs, TLS, and peer identities.

Every call to the `seedrl.v1.Learner` service (Act and GetStatus) must present the
experiment's secret (`seedrl.common.credentials`); one that presents none or a wrong one is
refused with UNAUTHENTICATED before its first message is read, and counted by reason in
`seedrl_unauthenticated_calls_total`. The standard health service stays open: Kubernetes
probes it without credentials, and it tells nothing but SERVING or NOT_SERVING.

A stream's `Peer` is who opened it: its host, and its client certificate's names under mTLS.
Only the same peer may replace an actor's open stream (`LearnerService`).
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from typing import Awaitable, Callable

import grpc

from seedrl.common import metrics as m
from seedrl.common.credentials import presented_secret, read_pem, read_secret_file
from seedrl.spec.auth import ServerAuth

log = logging.getLogger(__name__)

PROTECTED_PREFIX = "/seedrl.v1.Learner/"
UNAUTHENTICATED_REASONS = ("missing", "wrong")


class SecretCheck(grpc.aio.ServerInterceptor):
    """Refuses calls to the Learner service that do not present `secret` (compared in constant time)."""

    def __init__(self, secret: str, metrics: m.Metrics):
        self._secret = secret.encode()
        self._refused = {reason: metrics(m.UNAUTHENTICATED_CALLS, reason=reason) for reason in UNAUTHENTICATED_REASONS}

    def _problem(self, metadata: tuple[tuple[str, str | bytes], ...] | None) -> str | None:
        presented = presented_secret(metadata)
        if presented is None:
            return "missing"
        if not hmac.compare_digest(presented.encode(), self._secret):
            return "wrong"
        return None

    async def intercept_service(
        self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None or not details.method.startswith(PROTECTED_PREFIX):
            return handler
        problem = self._problem(details.invocation_metadata)
        if problem is None:
            return handler
        self._refused[problem].inc()
        message = ("this learner needs the experiment's secret (--auth.secret-file)" if problem == "missing"
                   else "wrong secret for this learner's experiment")

        async def refuse(request: object, context: grpc.aio.ServicerContext) -> None:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

        if handler.request_streaming and handler.response_streaming:
            return grpc.stream_stream_rpc_method_handler(refuse)
        if handler.request_streaming:
            return grpc.stream_unary_rpc_method_handler(refuse)
        if handler.response_streaming:
            return grpc.unary_stream_rpc_method_handler(refuse, request_deserializer=handler.request_deserializer)
        return grpc.unary_unary_rpc_method_handler(refuse, request_deserializer=handler.request_deserializer)


def interceptors(auth: ServerAuth, metrics: m.Metrics) -> list[grpc.aio.ServerInterceptor]:
    """The secret check if `auth` names a secret file (read now); none, with a warning, otherwise.

    Raises:
      CredentialsError: the secret file is missing, too open or malformed.
    """
    for reason in UNAUTHENTICATED_REASONS:  # exported from 0, so that rate() works
        metrics(m.UNAUTHENTICATED_CALLS, reason=reason)
    if auth.secret_file is None:
        log.warning("no --auth.secret-file: this learner serves ANY caller that reaches its port, unauthenticated; "
                    "give it the experiment's secret (seedrl train and the controller do)")
        return []
    return [SecretCheck(read_secret_file(auth.secret_file), metrics)]


def server_credentials(auth: ServerAuth) -> grpc.ServerCredentials | None:
    """TLS credentials for the learner's port (client certificates required with a client CA); None: plaintext.

    Raises:
      CredentialsError: a certificate or key file cannot be read.
    """
    if not auth.tls:
        return None
    key, cert = read_pem(auth.tls_key_file, "TLS key"), read_pem(auth.tls_cert_file, "TLS certificate")
    client_ca = read_pem(auth.tls_client_ca_file, "client CA") if auth.tls_client_ca_file else None
    return grpc.ssl_server_credentials([(key, cert)], root_certificates=client_ca, require_client_auth=client_ca is not None)


@dataclass(frozen=True)
class Peer:
    """Who opened a stream: the host it came from (no port), and its client certificate's names under mTLS."""

    host: str
    certificate: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.host + (f" ({', '.join(self.certificate)})" if self.certificate else "")


def peer_of(context: grpc.aio.ServicerContext) -> Peer:
    """The peer of a call: `ipv4:10.0.0.7:51234` -> host `ipv4:10.0.0.7`; certificate names from the TLS session."""
    address = context.peer() or ""
    host = address.rsplit(":", 1)[0] if address.startswith(("ipv4:", "ipv6:")) else address
    auth = context.auth_context() or {}
    names = [*auth.get("x509_common_name", ()), *auth.get("x509_subject_alternative_name", ())]
    return Peer(host, tuple(sorted({name.decode(errors="replace") for name in names})))
