"""The Kubernetes API calls the runtime makes, on plain JSON objects, retried with backoff.

`ClusterApi` is all the reconciler and the runtime use; `KubeApi` implements it with the official
client's REST layer (objects stay dicts, as the manifests are written). Transient failures
(connection errors, 429, 5xx) are retried with exponential backoff and jitter; what remains
raises `ApiError` (`NotFoundError` for 404, `AlreadyExistsError` for 409 on create).
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any, Callable, Protocol, TypeVar

from seedrl.common.backoff import Backoff
from seedrl.controller.runtimes.kubernetes.crd import GROUP, PLURAL, VERSION

log = logging.getLogger(__name__)

Object = dict[str, Any]
T = TypeVar("T")

FIELD_MANAGER = "seedrl-controller"
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
# Namespaced kinds the runtime manages: kind -> (API path prefix, resource).
KINDS = {
    "ConfigMap": ("api/v1", "configmaps"),
    "Service": ("api/v1", "services"),
    "PersistentVolumeClaim": ("api/v1", "persistentvolumeclaims"),
    "Pod": ("api/v1", "pods"),
    "StatefulSet": ("apis/apps/v1", "statefulsets"),
    "Deployment": ("apis/apps/v1", "deployments"),
    "NetworkPolicy": ("apis/networking.k8s.io/v1", "networkpolicies"),
    "Experiment": (f"apis/{GROUP}/{VERSION}", PLURAL),
}


class ApiError(RuntimeError):
    """A Kubernetes API call failed (after retries, if it was worth retrying)."""

    def __init__(self, status: int, message: str):
        super().__init__(f"Kubernetes API error {status}: {message}")
        self.status = status


class NotFoundError(ApiError):
    pass


class AlreadyExistsError(ApiError):
    pass


def error_for(status: int, message: str) -> ApiError:
    if status == 404:
        return NotFoundError(status, message)
    if status == 409:
        return AlreadyExistsError(status, message)
    return ApiError(status, message)


class ClusterApi(Protocol):
    """One namespace of a cluster, as the Kubernetes runtime uses it."""

    namespace: str

    def get(self, kind: str, name: str) -> Object | None: ...
    def list(self, kind: str, label_selector: str | None = None) -> list[Object]: ...
    def create(self, manifest: Object) -> Object: ...
    def apply(self, manifest: Object) -> Object:
        """Server-side apply: create the object or make the fields given what they say."""
    def merge_patch(self, kind: str, name: str, patch: Object, subresource: str | None = None) -> Object: ...
    def delete(self, kind: str, name: str) -> None:
        """Delete (dependents in the background); no error if it is gone already."""


def with_retries(call: Callable[[], T], what: str, attempts: int = 5, backoff: Backoff | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> T:
    """`call()`, retried on transient API errors (connection errors count as status 0)."""
    backoff = backoff or Backoff(0.2, 5.0)
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except ApiError as error:
            if error.status not in RETRIED_STATUSES and error.status != 0 or attempt == attempts:
                raise
            wait = backoff.next()
            log.warning("%s failed (%s); retry %d/%d in %.1fs", what, error, attempt, attempts - 1, wait)
            sleep(wait)
    raise AssertionError("unreachable")


class KubeApi:
    """ClusterApi over the official client: in-cluster credentials, else the local kubeconfig."""

    def __init__(self, namespace: str, timeout_s: float = 10.0, attempts: int = 5):
        from kubernetes import client, config

        configuration = client.Configuration()
        try:
            config.load_incluster_config(client_configuration=configuration)
        except config.ConfigException:
            # KUBECONFIG as it is now (the client reads it once, at import).
            config.load_kube_config(config_file=os.environ.get("KUBECONFIG"), client_configuration=configuration)
        configuration.retries = 0  # retried here, with backoff
        self._client = client.ApiClient(configuration)
        self.namespace = namespace
        self._timeout_s = timeout_s
        self._attempts = attempts

    def _path(self, kind: str, name: str | None = None, subresource: str | None = None) -> str:
        prefix, resource = KINDS[kind]
        path = f"/{prefix}/namespaces/{self.namespace}/{resource}"
        return path + (f"/{name}" if name else "") + (f"/{subresource}" if subresource else "")

    def _request(self, method: str, path: str, body: Any = None, query: list[tuple[str, Any]] | None = None,
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
                raise error_for(error.status or 0, str(error.reason)) from None
            except (HTTPError, OSError) as error:
                raise ApiError(0, str(error)) from None
            text = response.data.decode() if response.data else ""
            if not 200 <= response.status <= 299:
                raise error_for(response.status, _message(text))
            return json.loads(text) if text else {}

        return with_retries(call, f"{method} {path}", self._attempts)

    def get(self, kind: str, name: str) -> Object | None:
        try:
            return self._request("GET", self._path(kind, name))
        except NotFoundError:
            return None

    def list(self, kind: str, label_selector: str | None = None) -> list[Object]:
        query = [("labelSelector", label_selector)] if label_selector else None
        return self._request("GET", self._path(kind), query=query).get("items", [])

    def create(self, manifest: Object) -> Object:
        return self._request("POST", self._path(manifest["kind"]), body=manifest)

    def apply(self, manifest: Object) -> Object:
        query = [("fieldManager", FIELD_MANAGER), ("force", True)]
        return self._request("PATCH", self._path(manifest["kind"], manifest["metadata"]["name"]), body=manifest,
                             query=query, content_type="application/apply-patch+yaml")

    def merge_patch(self, kind: str, name: str, patch: Object, subresource: str | None = None) -> Object:
        return self._request("PATCH", self._path(kind, name, subresource), body=patch,
                             query=[("fieldManager", FIELD_MANAGER)], content_type="application/merge-patch+json")

    def delete(self, kind: str, name: str) -> None:
        try:
            self._request("DELETE", self._path(kind, name), body={"propagationPolicy": "Background"})
        except NotFoundError:
            pass


def _message(text: str) -> str:
    """The `message` of a Kubernetes Status body, else the body."""
    try:
        return json.loads(text).get("message") or text
    except ValueError:
        return text
