"""The tests' own Kubernetes REST client (httpx, independent of the product's `KubeApi`): paths in, JSON
out. The tests use it as the cluster administrator (to play the kubelet, install RBAC, inspect objects)."""

from __future__ import annotations

import ssl
import time
from typing import Any, Callable, TypeVar

import httpx

from seedrl.controller.runtimes.kubernetes.api import KINDS

Object = dict[str, Any]
T = TypeVar("T")
MERGE = "application/merge-patch+json"
APPLY = "application/apply-patch+yaml"
# kind -> (API prefix, resource, namespaced): the kinds the tests read and write beyond the runtime's.
RESOURCES = {
    **{kind: (prefix, resource, True) for kind, (prefix, resource) in KINDS.items()},
    "ServiceAccount": ("api/v1", "serviceaccounts", True),
    "Secret": ("api/v1", "secrets", True),
    "Role": ("apis/rbac.authorization.k8s.io/v1", "roles", True),
    "RoleBinding": ("apis/rbac.authorization.k8s.io/v1", "rolebindings", True),
    "ReplicaSet": ("apis/apps/v1", "replicasets", True),
    "HorizontalPodAutoscaler": ("apis/autoscaling/v2beta2", "horizontalpodautoscalers", True),
    "PodDisruptionBudget": ("apis/policy/v1beta1", "poddisruptionbudgets", True),
    "Namespace": ("api/v1", "namespaces", False),
    "Node": ("api/v1", "nodes", False),
    "PersistentVolume": ("api/v1", "persistentvolumes", False),
    "CustomResourceDefinition": ("apis/apiextensions.k8s.io/v1", "customresourcedefinitions", False),
}


def path(kind: str, namespace: str | None = None, name: str | None = None, subresource: str | None = None) -> str:
    """The REST path of a kind (its collection, or one object and a subresource)."""
    prefix, resource, namespaced = RESOURCES[kind]
    where = f"/namespaces/{namespace}" if namespaced and namespace else ""
    return f"/{prefix}{where}/{resource}" + (f"/{name}" if name else "") + (f"/{subresource}" if subresource else "")


class KubeError(RuntimeError):
    def __init__(self, status: int, body: Object | str):
        self.status = status
        self.body = body
        self.message = body.get("message", "") if isinstance(body, dict) else body
        super().__init__(f"{status}: {self.message}")


class Kube:
    """Requests to one API server with one bearer token."""

    def __init__(self, url: str, token: str, ca_file: str):
        self._client = httpx.Client(base_url=url, verify=ssl.create_default_context(cafile=ca_file), timeout=10,
                                    headers={"Authorization": f"Bearer {token}"})

    def request(self, method: str, path: str, body: Any = None, content_type: str = "application/json",
                **params: Any) -> Object:
        response = self._client.request(method, path, json=body, params=params or None,
                                        headers={"Content-Type": content_type})
        if response.status_code >= 300:
            try:
                raise KubeError(response.status_code, response.json())
            except ValueError:
                raise KubeError(response.status_code, response.text) from None
        return response.json() if response.content else {}

    def get(self, path: str) -> Object | None:
        try:
            return self.request("GET", path)
        except KubeError as error:
            if error.status == 404:
                return None
            raise

    def list(self, path: str, **params: Any) -> list[Object]:
        return self.request("GET", path, **params)["items"]

    def create(self, path: str, body: Object) -> Object:
        return self.request("POST", path, body)

    def apply(self, path: str, body: Object, manager: str = "tests") -> Object:
        """Server-side apply as field manager `manager` (forcing conflicts)."""
        return self.request("PATCH", path, body, APPLY, fieldManager=manager, force="true")

    def patch(self, path: str, body: Object) -> Object:
        return self.request("PATCH", path, body, MERGE)

    def delete(self, path: str, **options: Any) -> None:
        try:
            self.request("DELETE", path, options or None)
        except KubeError as error:
            if error.status != 404:
                raise

    def close(self) -> None:
        self._client.close()


def wait_for(check: Callable[[], T], what: str, timeout_s: float = 30.0, every_s: float = 0.1) -> T:
    """Poll `check()` until it returns something truthy (returned), or fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(every_s)
