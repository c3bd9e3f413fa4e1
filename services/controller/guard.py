"""The checks every request passes before the API reads it: host, size, token, and (without a token) same-site.

One ASGI middleware, in this order:
1. `Host` names this machine's loopback or an allowed host (400 otherwise), when the API has no
   token or the operator lists hosts: a page on another site cannot reach a loopback API by
   pointing its own name at 127.0.0.1 (DNS rebinding).
2. The body is at most `max_body_bytes` (413): a larger `Content-Length` is refused before a byte
   is read, and a body without one is cut off once it grows past the limit.
3. The API token, where one is configured (401/403; `auth.TokenAuth`).
4. Without a token, a request that changes something must come from the same site: an `Origin`
   other than the API's own is refused (403), and its body must be declared JSON (415), which no
   HTML form can send without the browser asking first.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable
from urllib.parse import urlsplit

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from seedrl.controller import problems
from seedrl.controller.auth import SAFE_METHODS, TokenAuth
from seedrl.controller.config import is_loopback

JSON = "application/json"


class BodyTooLarge(HTTPException):
    """A request body grew past the limit while it was read (413)."""

    def __init__(self, limit: int):
        super().__init__(413, f"the request body is larger than {limit:,} bytes, the most this controller reads "
                              "(the operator raises it with --max-body-bytes)")


def _host_name(host: str) -> str:
    """`host[:port]` -> host, lowercased, without brackets."""
    if host.startswith("["):
        return host[1:].partition("]")[0].lower()
    return host.rpartition(":")[0].lower() if host.count(":") == 1 else host.lower()


class RequestGuard:
    """The checks of the module docstring, as pure ASGI middleware (no request waits behind another)."""

    def __init__(self, app: ASGIApp, auth: TokenAuth, max_body_bytes: int, allowed_hosts: list[str]):
        self.app = app
        self._auth = auth
        self._limit = max_body_bytes
        self._hosts = {name.lower() for name in allowed_hosts}
        self._check_hosts = bool(allowed_hosts) or not auth.enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        refusal = self.refusal(request)
        if refusal is not None:
            status, detail, headers = refusal
            await problems.problem(request, status, detail, headers=headers)(scope, receive, send)
            return
        await self.app(scope, self._limited(receive), send)

    def refusal(self, request: Request) -> tuple[int, str, dict[str, str]] | None:
        """None if `request` may go on, else (status, detail, headers)."""
        host = _host_name(request.headers.get("host", ""))
        if self._check_hosts and not (is_loopback(host) or host in self._hosts):
            return 400, f"this controller does not serve the host {host!r} (the operator allows hosts with --allowed-hosts)", {}
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self._limit):
            if not length.isdigit():
                return 400, "Content-Length is not a number", {}
            return 413, BodyTooLarge(self._limit).detail, {}
        refusal = self._auth.refusal(request)
        if refusal is not None or self._auth.enabled or request.method in SAFE_METHODS:
            return refusal
        return self._cross_site(request)

    @staticmethod
    def _cross_site(request: Request) -> tuple[int, str, dict[str, str]] | None:
        origin = request.headers.get("origin")
        if origin is not None and urlsplit(origin).netloc.lower() != request.headers.get("host", "").lower():
            return 403, f"a request from {origin} may not change anything here (the API has no token, so it takes " \
                        "changes from its own origin only)", {}
        media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        if request.method != "DELETE" and media_type != JSON:
            return 415, "a request that changes something must send Content-Type: application/json (the API has no " \
                        "token, so it refuses what an HTML form could send)", {}
        return None

    def _limited(self, receive: Receive) -> Callable[[], Awaitable[Message]]:
        """`receive`, raising BodyTooLarge once the body read passes the limit."""
        read = 0

        async def limited() -> dict[str, Any]:
            nonlocal read
            message = await receive()
            if message["type"] == "http.request":
                read += len(message.get("body", b""))
                if read > self._limit:
                    raise BodyTooLarge(self._limit)
            return message

        return limited
