"""gRPC channels to a learner, secure or not, as a `LearnerClient` describes it."""

from __future__ import annotations

import grpc

from seedrl.common.credentials import ClientTLS, LearnerClient, read_pem

Options = list[tuple[str, int | str]]


def _credentials(tls: ClientTLS) -> grpc.ChannelCredentials:
    key = read_pem(tls.key_file, "TLS key") if tls.key_file else None
    cert = read_pem(tls.cert_file, "TLS certificate") if tls.cert_file else None
    return grpc.ssl_channel_credentials(read_pem(tls.ca_file, "CA certificate"), key, cert)


def _options(client: LearnerClient, options: Options | None) -> Options:
    override = [("grpc.ssl_target_name_override", client.tls.server_name)] if client.tls and client.tls.server_name else []
    return [*(options or []), *override]


def channel(client: LearnerClient, options: Options | None = None) -> grpc.Channel:
    """A blocking channel (status polls).

    Raises:
      CredentialsError: a TLS file cannot be read.
    """
    if client.tls is None:
        return grpc.insecure_channel(client.address, options=_options(client, options))
    return grpc.secure_channel(client.address, _credentials(client.tls), options=_options(client, options))


def aio_channel(client: LearnerClient, options: Options | None = None) -> grpc.aio.Channel:
    """An asyncio channel (actors' streams).

    Raises:
      CredentialsError: a TLS file cannot be read.
    """
    if client.tls is None:
        return grpc.aio.insecure_channel(client.address, options=_options(client, options))
    return grpc.aio.secure_channel(client.address, _credentials(client.tls), options=_options(client, options))
