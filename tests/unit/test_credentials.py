"""The experiment's secret file, the auth options of learners and actors, and what runs unauthenticated says so."""

from __future__ import annotations

import logging
import os

import pytest
from pydantic import ValidationError

from seedrl.actor.loop import ActorRefused, learner_client
from seedrl.common import metrics as m
from seedrl.common.credentials import (
    MIN_SECRET_LENGTH, CredentialsError, call_metadata, ensure_secret_file, presented_secret, read_secret_file,
)
from seedrl.common.defaults import API_TOKEN_ENV
from seedrl.controller.runtimes.processes import child_environment
from seedrl.learner.auth import SecretCheck, interceptors
from seedrl.spec.actor import ActorConfig
from seedrl.spec.auth import ClientAuth, ServerAuth


def test_a_secret_file_is_created_private_once_and_then_kept(tmp_path):
    path = ensure_secret_file(tmp_path / "secret")
    assert path.stat().st_mode & 0o777 == 0o600
    secret = read_secret_file(path)
    assert len(secret) >= 43 and secret.isprintable()
    assert read_secret_file(ensure_secret_file(path)) == secret  # a restart or an adoption reads the same one
    assert read_secret_file(ensure_secret_file(tmp_path / "other")) != secret


@pytest.mark.parametrize("text, mode, problem", [
    ("s" * 43, 0o644, "accessible to other users"),
    ("s" * 43, 0o602, "accessible to other users"),
    ("short", 0o600, f"{MIN_SECRET_LENGTH} or more"),
    ("two secrets " + "s" * 43, 0o600, "one secret"),
    ("", 0o600, "one secret"),
])
def test_a_secret_file_that_is_open_to_others_or_malformed_is_refused(tmp_path, text, mode, problem):
    path = tmp_path / "secret"
    path.write_text(text)
    os.chmod(path, mode)
    with pytest.raises(CredentialsError, match=problem):
        read_secret_file(path)


def test_a_missing_secret_file_is_a_clear_error(tmp_path):
    with pytest.raises(CredentialsError, match="cannot read the secret file"):
        read_secret_file(tmp_path / "nowhere")


def test_the_secret_travels_as_a_bearer_value_and_only_that_is_read_back():
    metadata = call_metadata("s3cret-s3cret-s3cret")
    assert metadata == (("authorization", "Bearer s3cret-s3cret-s3cret"),)
    assert presented_secret((("x-other", "1"), *metadata)) == "s3cret-s3cret-s3cret"
    assert presented_secret((("authorization", "Basic dXNlcjpwYXNz"),)) is None
    assert presented_secret(()) is None and call_metadata(None) == ()


@pytest.mark.parametrize("model, fields, problem", [
    (ServerAuth, {"tls_cert_file": "c.pem"}, "go together"),
    (ServerAuth, {"tls_key_file": "k.pem"}, "go together"),
    (ServerAuth, {"tls_client_ca_file": "ca.pem"}, "need TLS"),
    (ClientAuth, {"tls_cert_file": "c.pem", "tls_key_file": "k.pem"}, "needs TLS"),
    (ClientAuth, {"tls_server_name": "learner"}, "needs TLS"),
    (ClientAuth, {"tls_ca_file": "ca.pem", "tls_cert_file": "c.pem"}, "go together"),
])
def test_tls_options_that_cannot_work_together_are_refused(model, fields, problem):
    with pytest.raises(ValidationError, match=problem):
        model.model_validate(fields)


def test_a_learner_without_a_secret_warns_that_anyone_can_call_it(tmp_path, caplog):
    metrics = m.Metrics("t", "learner")
    with caplog.at_level(logging.WARNING):
        assert interceptors(ServerAuth(), metrics) == []
    assert "ANY caller" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        (check,) = interceptors(ServerAuth(secret_file=ensure_secret_file(tmp_path / "secret")), metrics)
    assert isinstance(check, SecretCheck) and "ANY caller" not in caplog.text


def test_an_actor_without_a_secret_warns_and_one_with_an_unreadable_secret_is_refused(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        assert learner_client(ActorConfig()).secret is None
    assert "presents no secret" in caplog.text
    with pytest.raises(ActorRefused, match="cannot read the secret file"):
        learner_client(ActorConfig(auth=ClientAuth(secret_file=tmp_path / "missing")))
    path = ensure_secret_file(tmp_path / "secret")
    client = learner_client(ActorConfig(learner="learner:8686", auth=ClientAuth(secret_file=path)))
    assert client.address == "learner:8686" and client.metadata == call_metadata(read_secret_file(path))


def test_child_processes_do_not_inherit_the_controllers_api_token(monkeypatch):
    monkeypatch.setenv(API_TOKEN_ENV, "api-token")
    monkeypatch.setenv("SEEDRL_SOMETHING", "kept")
    environment = child_environment()
    assert API_TOKEN_ENV not in environment and environment["SEEDRL_SOMETHING"] == "kept"
