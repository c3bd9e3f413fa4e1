"""A stand-in for a Kubernetes API server (none can run here): an object store with the API's
semantics that the runtime relies on, plus the roles of the cluster's own controllers.

It keeps objects by (kind, name) in one namespace; `create` refuses duplicates (409) and ignores
`status` (as the API does for resources with a status subresource); `apply` creates or merges
(server-side apply, simplified: the fields given win, lists are replaced); `merge_patch` follows
RFC 7386 and writes only `status` through the status subresource; `delete` removes what the object
owns, as the garbage collector does. `settle()` plays the workload controllers and kubelet: it
makes the pods of every StatefulSet and Deployment match its replicas and sets ready counts.
`fail_next()` makes calls fail as an overloaded API server does. `StandInApiServer` serves the
store over HTTP with the Kubernetes REST paths, so the real client code (`KubeApi`) is tested too.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from seedrl.controller.runtimes.kubernetes.api import KINDS, AlreadyExistsError, ApiError, NotFoundError, Object

_RESOURCE_KIND = {resource: kind for kind, (_, resource) in KINDS.items()}


def merge(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge(result.get(key), value)
    return result


def matches(labels: dict[str, str], selector: str | None) -> bool:
    """A label selector of `key=value` and `key` (exists) terms."""
    for term in filter(None, (selector or "").split(",")):
        key, _, value = term.partition("=")
        if key not in labels or (value and labels[key] != value):
            return False
    return True


class StandInCluster:
    """One namespace of a stand-in API server; see the module docstring."""

    def __init__(self, namespace: str = "seedrl"):
        self.namespace = namespace
        self.objects: dict[tuple[str, str], Object] = {}
        self.calls: list[tuple[str, str, str]] = []  # (verb, kind, name)
        self._uids = itertools.count(1)
        self._failures: list[tuple[str | None, str | None, int]] = []
        self._lock = threading.RLock()

    # --- Failure injection ---------------------------------------------------------------

    def fail_next(self, count: int, status: int = 503, verb: str | None = None, kind: str | None = None) -> None:
        """Fail the next `count` calls (of `verb` on `kind`, if given) with `status`."""
        self._failures += [(verb, kind, status)] * count

    def _call(self, verb: str, kind: str, name: str = "") -> None:
        self.calls.append((verb, kind, name))
        for index, (want_verb, want_kind, status) in enumerate(self._failures):
            if want_verb in (None, verb) and want_kind in (None, kind):
                del self._failures[index]
                raise ApiError(status, f"stand-in API server refused {verb} {kind}/{name}")

    # --- ClusterApi ----------------------------------------------------------------------

    def get(self, kind: str, name: str) -> Object | None:
        with self._lock:
            self._call("get", kind, name)
            found = self.objects.get((kind, name))
            return copy.deepcopy(found) if found else None

    def list(self, kind: str, label_selector: str | None = None) -> list[Object]:
        with self._lock:
            self._call("list", kind)
            return [copy.deepcopy(obj) for (k, _), obj in self.objects.items()
                    if k == kind and matches(obj["metadata"].get("labels", {}), label_selector)]

    def create(self, manifest: Object) -> Object:
        with self._lock:
            self._call("create", manifest["kind"], manifest["metadata"]["name"])
            key = (manifest["kind"], manifest["metadata"]["name"])
            if key in self.objects:
                raise AlreadyExistsError(409, f"{key[0]} {key[1]} already exists")
            obj = copy.deepcopy(manifest)
            obj.pop("status", None)
            obj["metadata"].update(namespace=self.namespace, uid=f"uid-{next(self._uids)}", generation=1,
                                   creationTimestamp=f"2030-01-01T00:00:{len(self.objects) % 60:02d}Z")
            self.objects[key] = obj
            return copy.deepcopy(obj)

    def apply(self, manifest: Object) -> Object:
        with self._lock:
            key = (manifest["kind"], manifest["metadata"]["name"])
            if key not in self.objects:
                created = self.create(manifest)
                self.calls[-1] = ("apply", *key)
                return created
            self._call("apply", *key)
            obj = self.objects[key]
            spec = obj.get("spec")
            for field, value in manifest.items():
                if field not in ("status", "metadata"):
                    obj[field] = copy.deepcopy(value)
            obj["metadata"] = merge(obj["metadata"], manifest["metadata"])
            if obj.get("spec") != spec:
                obj["metadata"]["generation"] += 1
            return copy.deepcopy(obj)

    def merge_patch(self, kind: str, name: str, patch: Object, subresource: str | None = None) -> Object:
        with self._lock:
            self._call("patch" + (f"/{subresource}" if subresource else ""), kind, name)
            obj = self.objects.get((kind, name))
            if obj is None:
                raise NotFoundError(404, f"{kind} {name} not found")
            if subresource == "status":
                obj["status"] = merge(obj.get("status", {}), patch.get("status", {}))
            else:
                spec = obj.get("spec")
                self.objects[(kind, name)] = obj = merge(obj, {k: v for k, v in patch.items() if k != "status"})
                if obj.get("spec") != spec:
                    obj["metadata"]["generation"] += 1
            return copy.deepcopy(obj)

    def delete(self, kind: str, name: str) -> None:
        with self._lock:
            self._call("delete", kind, name)
            obj = self.objects.pop((kind, name), None)
            if obj is not None:
                self._collect_garbage(obj["metadata"]["uid"])

    # --- The cluster's own controllers ---------------------------------------------------

    def _collect_garbage(self, uid: str) -> None:
        owned = [key for key, obj in self.objects.items()
                 if any(ref["uid"] == uid for ref in obj["metadata"].get("ownerReferences", []))]
        for key in owned:
            self._collect_garbage(self.objects.pop(key)["metadata"]["uid"])

    def settle(self) -> None:
        """Make every workload's pods match its replicas, all running and ready, PVCs per volumeClaimTemplate."""
        with self._lock:
            for (kind, name), workload in list(self.objects.items()):
                if kind not in ("StatefulSet", "Deployment"):
                    continue
                replicas = workload["spec"]["replicas"]
                pods = sorted(pod for (k, pod) in self.objects if k == "Pod" and pod.startswith(f"{name}-"))
                for pod in pods[replicas:]:
                    del self.objects[("Pod", pod)]
                for index in range(len(pods), replicas):
                    self._start_pod(workload, f"{name}-{index}")
                    for template in workload["spec"].get("volumeClaimTemplates", []):
                        claim = f"{template['metadata']['name']}-{name}-{index}"
                        self.objects.setdefault(("PersistentVolumeClaim", claim), {
                            "kind": "PersistentVolumeClaim", "metadata": {"name": claim, "uid": claim}})
                workload["status"] = {"replicas": replicas, "readyReplicas": replicas}

    def _start_pod(self, workload: Object, name: str) -> None:
        template = workload["spec"]["template"]
        self.objects[("Pod", name)] = {
            "kind": "Pod",
            "metadata": {"name": name, "uid": f"uid-{next(self._uids)}", "labels": dict(template["metadata"]["labels"]),
                         "ownerReferences": [{"uid": workload["metadata"]["uid"]}]},
            "status": {"phase": "Running", "podIP": f"10.0.0.{len(self.objects) % 250}",
                       "containerStatuses": [{"name": c["name"], "restartCount": 0, "state": {"running": {}}}
                                             for c in template["spec"]["containers"]]},
        }

    def set_container(self, pod: str, **fields: Any) -> None:
        """Change a pod's container status (as kubelet reports crashes and restarts)."""
        with self._lock:
            self.objects[("Pod", pod)]["status"]["containerStatuses"][0].update(fields)


class StandInApiServer:
    """The stand-in store behind HTTP, with the REST paths, verbs and content types of the Kubernetes API."""

    PATH = re.compile(r"^/(?:api/v1|apis/[^/]+/[^/]+)/namespaces/(?P<ns>[^/]+)/(?P<resource>[^/?]+)"
                      r"(?:/(?P<name>[^/?]+))?(?:/(?P<sub>status))?(?:\?(?P<query>.*))?$")

    def __init__(self, cluster: StandInCluster):
        self.cluster = cluster
        self.requests: list[tuple[str, str, str]] = []  # (method, path, content type)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: Object) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                server.requests.append((self.command, self.path, self.headers.get("Content-Type", "")))
                match = server.PATH.match(self.path)
                if match is None or match["resource"] not in _RESOURCE_KIND:
                    return self._send(404, {"kind": "Status", "message": f"no route {self.path}"})
                kind, name = _RESOURCE_KIND[match["resource"]], match["name"]
                try:
                    self._send(200, server._dispatch(self.command, kind, name, match["sub"], body,
                                                     self.headers.get("Content-Type", ""), parse_qs(match["query"] or "")))
                except ApiError as error:
                    self._send(error.status, {"kind": "Status", "message": str(error)})

            do_GET = do_POST = do_PATCH = do_DELETE = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _dispatch(self, method: str, kind: str, name: str | None, sub: str | None, body: Any, content_type: str,
                  query: dict[str, list[str]]) -> Object:
        cluster = self.cluster
        if method == "GET" and name:
            found = cluster.get(kind, name)
            if found is None:
                raise NotFoundError(404, f"{kind} {name} not found")
            return found
        if method == "GET":
            return {"items": cluster.list(kind, query.get("labelSelector", [None])[0])}
        if method == "POST":
            return cluster.create(body)
        if method == "PATCH" and content_type.startswith("application/apply-patch"):
            return cluster.apply(body)
        if method == "PATCH" and content_type == "application/merge-patch+json":
            return cluster.merge_patch(kind, name, body, sub)
        if method == "DELETE":
            if cluster.get(kind, name) is None:
                raise NotFoundError(404, f"{kind} {name} not found")
            cluster.delete(kind, name)
            return {"kind": "Status", "status": "Success"}
        raise ApiError(415, f"unsupported {method} {content_type}")

    def __enter__(self) -> "StandInApiServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()
