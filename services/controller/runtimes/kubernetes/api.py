"""The Kubernetes API calls the runtime makes, on plain JSON objects.

`ClusterApi` is all the reconciler, the runtime and the leader election use; `KubeApi` implements it
with the official client's REST layer (objects stay dicts, as the manifests are written). What fails
raises `ApiError` carrying the server's status code, its `reason` (Forbidden, Invalid, Conflict, ...)
and its message. Only transient failures are retried within a call, with exponential backoff and
jitter: a lost connection, 429, 502, 503, 504, and a 500 the server asks to retry (Retry-After), as
client-go does. A permanent rejection (403, 422, a 500 from a schema the server lacks) raises at once:
the next reconcile pass tries again.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Callable, Protocol, TypeVar

from seedrl.common.backoff import Backoff
from seedrl.controller.runtimes.kubernetes.crd import GROUP, PLURAL, VERSION

log = logging.getLogger(__name__)

Object = dict[str, Any]
T = TypeVar("T")

FIELD_MANAGER = "seedrl-controller"
TRANSIENT_STATUSES = frozenset({0, 429, 502, 503, 504})  # 0: no answer (connection refused, reset, timeout)
# Namespaced kinds the runtime manages: kind -> (API path prefix, resource).
KINDS = {
    "ConfigMap": ("api/v1", "configmaps"),
    "Secret": ("api/v1", "secrets"),
    "Service": ("api/v1", "services"),
    "PersistentVolumeClaim": ("api/v1", "persistentvolumeclaims"),
    "Pod": ("api/v1", "pods"),
    "StatefulSet": ("apis/apps/v1", "statefulsets"),
    "Deployment": ("apis/apps/v1", "deployments"),
    "NetworkPolicy": ("apis/networking.k8s.io/v1", "networkpolicies"),
    "Lease": ("apis/coordination.k8s.io/v1", "leases"),
    "Experiment": (f"apis/{GROUP}/{VERSION}", PLURAL),
}
_REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 409: "Conflict",
            422: "Invalid", 429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable",
            504: "Timeout"}


class ApiError(RuntimeError):
    """A Kubernetes API call failed (after retries, if it was worth retrying).

    `operation` is what was attempted (`apply StatefulSet/x-learner`), `reason` the Kubernetes Status
    reason, `message` the server's own words, `retry_after` whether the server asked to retry.
    str() is the three together, as a status condition shows them.
    """

    def __init__(self, status: int, message: str, reason: str = "", operation: str = "", retry_after: bool = False,
                 causes: list[dict[str, str]] | None = None):
        self.status = status
        self.causes = causes or []  # the Status's details.causes: {reason, message, field}
        self.message = message
        self.reason = reason or _REASONS.get(status, "Unreachable" if status == 0 else f"Http{status}")
        self.operation = operation
        self.retry_after = retry_after
        super().__init__(f"{operation + ': ' if operation else ''}{self.reason} ({status}): {message}")

    @property
    def transient(self) -> bool:
        """Worth retrying at once: the server was unreachable, overloaded, or asked to retry."""
        return self.status in TRANSIENT_STATUSES or (self.retry_after and self.status >= 500)


class NotFoundError(ApiError):
    pass


class AlreadyExistsError(ApiError):
    """409 on create: an object of that name exists."""


class ConflictError(ApiError):
    """409 on a write with a stale resourceVersion: the object changed since it was read."""


def error_for(status: int, body: str, operation: str = "", retry_after: bool = False) -> ApiError:
    """The ApiError for a failed response: its Status body's message and reason, else the body."""
    try:
        document = json.loads(body)
        message, reason = document.get("message") or body, document.get("reason") or ""
        causes = (document.get("details") or {}).get("causes") or []
    except (ValueError, AttributeError):
        message, reason, causes = body, "", []
    kind = {404: NotFoundError}.get(status, ApiError)
    if status == 409:
        kind = AlreadyExistsError if reason == "AlreadyExists" else ConflictError
    return kind(status, message, reason, operation, retry_after, causes)


class ClusterApi(Protocol):
    """One namespace of a cluster, as the Kubernetes runtime uses it."""

    namespace: str

    def get(self, kind: str, name: str) -> Object | None: ...
    def list(self, kind: str, label_selector: str | None = None) -> list[Object]: ...
    def create(self, manifest: Object) -> Object: ...
    def replace(self, manifest: Object) -> Object:
        """PUT the whole object; its metadata.resourceVersion makes it conditional (ConflictError if stale)."""
    def apply(self, manifest: Object) -> Object:
        """Server-side apply with the controller's field manager: create the object or make the fields
        given what they say (taking them over from other managers)."""
    def merge_patch(self, kind: str, name: str, patch: Object, subresource: str | None = None) -> Object:
        """JSON merge patch; a metadata.resourceVersion in `patch` makes it conditional (ConflictError if stale)."""
    def delete(self, kind: str, name: str, propagation: str = "Background", grace_period_s: int | None = None) -> None:
        """Delete (dependents per `propagation`: Background, Foreground or Orphan); no error if it is gone."""


def with_retries(call: Callable[[], T], what: str, attempts: int = 5, backoff: Backoff | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> T:
    """`call()`, retried while it fails transiently (see ApiError.transient)."""
    backoff = backoff or Backoff(0.2, 5.0)
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except ApiError as error:
            if not error.transient or attempt == attempts:
                raise
            wait = backoff.next()
            log.warning("%s failed (%s); retry %d/%d in %.1fs", what, error, attempt, attempts - 1, wait)
            sleep(wait)
    raise AssertionError("unreachable")


class KubeApi:
    """ClusterApi over the official client: in-cluster credentials, else a kubeconfig (`kubeconfig`,
    else $KUBECONFIG, else ~/.kube/config)."""

    def __init__(self, namespace: str, timeout_s: float = 10.0, attempts: int = 5, kubeconfig: Path | None = None):
        from kubernetes import client, config

        configuration = client.Configuration()
        try:
            if kubeconfig is not None:
                raise config.ConfigException("a kubeconfig was given")
            config.load_incluster_config(client_configuration=configuration)
        except config.ConfigException:
            # KUBECONFIG as it is now (the client reads it once, at import).
            config.load_kube_config(config_file=str(kubeconfig) if kubeconfig else os.environ.get("KUBECONFIG"),
                                    client_configuration=configuration)
        configuration.retries = 0  # retried here, with backoff
        self._client = client.ApiClient(configuration)
        self.namespace = namespace
        self._timeout_s = timeout_s
        self._attempts = attempts

    def _path(self, kind: str, name: str | None = None, subresource: str | None = None) -> str:
        prefix, resource = KINDS[kind]
        path = f"/{prefix}/namespaces/{self.namespace}/{resource}"
        return path + (f"/{name}" if name else "") + (f"/{subresource}" if subresource else "")

    def _request(self, what: str, method: str, path: str, body: Any = None, query: list[tuple[str, Any]] | None = None,
                 content_type: str = "application/json") -> Object:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        def call() -> Object:
            headers = {"Accept": "application/json", "Content-Type": content_type}
            method_, url, headers_, body_, _ = self._client.param_serialize(
                method, path, query_params=query, header_params=headers, body=body, auth_settings=["BearerToken"],
            )
            try:
                response = self._client.call_api(method_, url, headers_, body_, _request_timeout=self._timeout_s)
                response.read()
            except ApiException as error:
                raise error_for(error.status or 0, error.body or str(error.reason), what,
                                bool(error.headers and error.headers.get("Retry-After"))) from None
            except (HTTPError, OSError) as error:
                raise ApiError(0, str(error), operation=what) from None
            text = response.data.decode() if response.data else ""
            if not 200 <= response.status <= 299:
                raise error_for(response.status, text, what, bool(response.headers.get("Retry-After")))
            return json.loads(text) if text else {}

        return with_retries(call, what, self._attempts)

    def get(self, kind: str, name: str) -> Object | None:
        try:
            return self._request(f"get {kind}/{name}", "GET", self._path(kind, name))
        except NotFoundError:
            return None

    def list(self, kind: str, label_selector: str | None = None) -> list[Object]:
        query = [("labelSelector", label_selector)] if label_selector else None
        return self._request(f"list {kind}", "GET", self._path(kind), query=query).get("items", [])

    def create(self, manifest: Object) -> Object:
        return self._request(f"create {_key(manifest)}", "POST", self._path(manifest["kind"]), body=manifest)

    def replace(self, manifest: Object) -> Object:
        return self._request(f"replace {_key(manifest)}", "PUT", self._path(manifest["kind"], manifest["metadata"]["name"]),
                             body=manifest, query=[("fieldManager", FIELD_MANAGER)])

    def apply(self, manifest: Object) -> Object:
        query = [("fieldManager", FIELD_MANAGER), ("force", True)]
        return self._request(f"apply {_key(manifest)}", "PATCH", self._path(manifest["kind"], manifest["metadata"]["name"]),
                             body=manifest, query=query, content_type="application/apply-patch+yaml")

    def merge_patch(self, kind: str, name: str, patch: Object, subresource: str | None = None) -> Object:
        what = f"patch {kind}/{name}" + (f"/{subresource}" if subresource else "")
        return self._request(what, "PATCH", self._path(kind, name, subresource), body=patch,
                             query=[("fieldManager", FIELD_MANAGER)], content_type="application/merge-patch+json")

    def delete(self, kind: str, name: str, propagation: str = "Background", grace_period_s: int | None = None) -> None:
        body: Object = {"propagationPolicy": propagation}
        if grace_period_s is not None:
            body["gracePeriodSeconds"] = grace_period_s
        try:
            self._request(f"delete {kind}/{name}", "DELETE", self._path(kind, name), body=body)
        except NotFoundError:
            pass


def _key(manifest: Object) -> str:
    return f"{manifest['kind']}/{manifest['metadata']['name']}"
