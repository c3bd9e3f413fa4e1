"""How a learner authenticates its callers, and how actors (and status probes) authenticate to it.

Only file paths appear here: configs, command lines and config dumps never hold a secret's value.
`seedrl.common.credentials` reads the files.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from seedrl.common.credentials import ClientTLS, LearnerClient, read_secret_file


class _Files(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _pair(value: Path | None, info: ValidationInfo, partner: str) -> Path | None:
    """A certificate and its key come together."""
    if (value is None) != (info.data.get(partner) is None):
        raise ValueError(f"tls_cert_file and tls_key_file go together; {partner} is {'missing' if value else 'given'}")
    return value


class ServerAuth(_Files):
    """The learner's side: the experiment's secret callers must present, and optional TLS.

    Without `secret_file` the learner serves anyone who reaches its port (it logs a warning).
    """

    secret_file: Path | None = Field(None, description="File holding the experiment's secret that every call must present.")
    tls_cert_file: Path | None = Field(None, description="PEM certificate (chain) the learner serves TLS with.")
    tls_key_file: Path | None = Field(None, validate_default=True, description="PEM private key of tls_cert_file.")
    tls_client_ca_file: Path | None = Field(
        None, description="PEM CA bundle: callers must present a client certificate it signed (mTLS).",
    )

    @field_validator("tls_key_file")
    @classmethod
    def _key_with_cert(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return _pair(value, info, "tls_cert_file")

    @field_validator("tls_client_ca_file")
    @classmethod
    def _client_ca_needs_tls(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is not None and info.data.get("tls_cert_file") is None:
            raise ValueError("client certificates (tls_client_ca_file) need TLS: give tls_cert_file and tls_key_file")
        return value

    @property
    def tls(self) -> bool:
        return self.tls_cert_file is not None


class ClientAuth(_Files):
    """A caller's side: the experiment's secret to present, and TLS when the learner serves it."""

    secret_file: Path | None = Field(None, description="File holding the experiment's secret, presented on every call.")
    tls_ca_file: Path | None = Field(
        None, description="PEM CA bundle that signed the learner's certificate: connect over TLS and verify it.",
    )
    tls_cert_file: Path | None = Field(None, description="PEM client certificate, for a learner that asks for one (mTLS).")
    tls_key_file: Path | None = Field(None, validate_default=True, description="PEM private key of tls_cert_file.")
    tls_server_name: str | None = Field(
        None, max_length=253, description="Name to verify the learner's certificate against (default: the address's host).",
    )

    @field_validator("tls_key_file")
    @classmethod
    def _key_with_cert(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return _pair(value, info, "tls_cert_file")

    @field_validator("tls_key_file", "tls_server_name")
    @classmethod
    def _needs_tls(cls, value: object, info: ValidationInfo) -> object:
        if value is not None and info.data.get("tls_ca_file") is None:
            raise ValueError(f"{info.field_name} needs TLS: give tls_ca_file")
        return value

    def client(self, address: str) -> LearnerClient:
        """The learner at `address` as these files say to reach it (the secret is read now).

        Raises:
          CredentialsError: a file is missing, unreadable or (the secret) too open.
        """
        secret = read_secret_file(self.secret_file) if self.secret_file else None
        tls = None
        if self.tls_ca_file is not None:
            tls = ClientTLS(self.tls_ca_file, self.tls_cert_file, self.tls_key_file, self.tls_server_name)
        return LearnerClient(address, secret, tls)
