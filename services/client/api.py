"""`ApiClient`: one method per route of the controller's REST API (`/api/v1`).

Every failure raises a `ClientError`: `ApiError` for an answer that is not 2xx
(built from its RFC 9457 problem details), plain `ClientError` when no answer came.
"""

from __future__ import annotations

import os
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

API_PREFIX = "/api/v1"


class ClientError(Exception):
    """A request (or its input) that did not succeed; the message says why."""


class ApiError(ClientError):
    """The controller answered with an error: its status, title, detail and (for 422) the invalid fields."""

    def __init__(self, status: int, title: str, detail: str, errors: list[dict[str, str]] | None = None):
        super().__init__(f"{status} {title}: {detail}")
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors or []

    @classmethod
    def from_response(cls, response: httpx.Response) -> "ApiError":
        """Read the problem details of `response`, falling back on its status line and text when they are absent."""
        response.read()
        try:
            body = response.json()
        except ValueError:
            body = None
        problem: dict[str, Any] = body if isinstance(body, dict) else {}
        errors = problem.get("errors")
        return cls(
            response.status_code,
            str(problem.get("title") or _phrase(response.status_code)),
            str(problem.get("detail") or response.text.strip()[:500] or "no details given"),
            [error for error in errors if isinstance(error, dict)] if isinstance(errors, list) else [],
        )


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _segment(value: str) -> str:
    """`value` as one URL path segment (a name cannot add segments such as `..`)."""
    return quote(value, safe="")


class ApiClient:
    """A client of the controller at `url` (e.g. http://127.0.0.1:8080), sending `token` as a bearer token if given."""

    def __init__(self, url: str, token: str | None, timeout: float = 60):
        self.url = url
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            self._http = httpx.Client(base_url=url.rstrip("/") + API_PREFIX, headers=headers, timeout=timeout)
        except httpx.InvalidURL as error:
            raise ClientError(f"invalid controller URL {url!r}: {error}") from None

    def __enter__(self) -> "ApiClient":
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _send(self, method: str, path: str, *, stream: bool = False, **kwargs: Any) -> httpx.Response:
        """Send a request; a non-2xx answer raises ApiError, no answer a ClientError naming the URL.

        Changes are always declared JSON, body or not: a controller without a token refuses any other.
        """
        if method in ("POST", "PUT", "PATCH") and kwargs.get("json") is None:
            kwargs["headers"] = {"Content-Type": "application/json", **kwargs.get("headers", {})}
        try:
            request = self._http.build_request(method, path, **kwargs)
            response = self._http.send(request, stream=stream)
        except httpx.TimeoutException:
            raise ClientError(f"the controller at {self.url} did not answer in time") from None
        except (httpx.TransportError, httpx.InvalidURL) as error:
            raise ClientError(f"cannot reach the controller at {self.url}: {error}") from None
        if not response.is_success:
            try:
                raise ApiError.from_response(response)
            finally:
                response.close()
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self._send(method, path, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise ClientError(f"the controller at {self.url} answered {method} {path} without JSON") from None

    def create(self, spec: dict[str, Any], start: bool = False) -> dict[str, Any]:
        """Create an experiment from its spec (and start it)."""
        return self._json("POST", "/experiments", json=spec, params={"start": start})

    def list(self, phase: str | None = None, limit: int = 50, offset: int = 0) -> dict[str, Any]:
        """A page of experiments, oldest first: `items`, `total`, `limit`, `offset`."""
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if phase is not None:
            params["phase"] = phase
        return self._json("GET", "/experiments", params=params)

    def get(self, name: str) -> dict[str, Any]:
        """An experiment: name, spec, status, created_at."""
        return self._json("GET", f"/experiments/{_segment(name)}")

    def start(self, name: str) -> dict[str, Any]:
        """Start a created experiment."""
        return self._json("POST", f"/experiments/{_segment(name)}/start")

    def stop(self, name: str) -> dict[str, Any]:
        """Stop an experiment gracefully (its learner writes a final checkpoint)."""
        return self._json("POST", f"/experiments/{_segment(name)}/stop")

    def resume(self, name: str, checkpoint: str | None = None) -> dict[str, Any]:
        """Resume an experiment from its newest checkpoint, or from `checkpoint` (ckpt-N or other-experiment/ckpt-N)."""
        body = {"checkpoint": checkpoint} if checkpoint is not None else None
        return self._json("POST", f"/experiments/{_segment(name)}/resume", json=body)

    def scale(self, name: str, actors: int) -> dict[str, Any]:
        """Set an experiment's number of actors."""
        return self._json("POST", f"/experiments/{_segment(name)}/scale", json={"actors": actors})

    def delete(self, name: str, force: bool = False, delete_checkpoints: bool = False) -> None:
        """Delete an experiment (`force`: stop it first; `delete_checkpoints`: remove its run folder too)."""
        params = {"force": force, "delete_checkpoints": delete_checkpoints}
        self._send("DELETE", f"/experiments/{_segment(name)}", params=params).close()

    def checkpoints(self, name: str) -> dict[str, Any]:
        """An experiment's checkpoints: `items`."""
        return self._json("GET", f"/experiments/{_segment(name)}/checkpoints")

    def download_checkpoint(self, name: str, checkpoint: str, path: str | os.PathLike[str]) -> int:
        """Stream checkpoint `checkpoint` of `name` as .tar.gz to `path`; returns its size in bytes.

        The archive is written next to `path` and renamed once complete, so a failed download leaves no file.
        """
        target = Path(path)
        partial = target.with_name(target.name + ".part")
        response = self._send("GET", f"/experiments/{_segment(name)}/checkpoints/{_segment(checkpoint)}", stream=True)
        try:
            with open(partial, "wb") as file:
                for chunk in response.iter_bytes():
                    file.write(chunk)
            partial.replace(target)
        except httpx.TransportError as error:
            raise ClientError(f"the download from {self.url} broke off: {error}") from None
        except OSError as error:
            raise ClientError(f"cannot write {target}: {error}") from None
        finally:
            response.close()
            partial.unlink(missing_ok=True)
        return target.stat().st_size
