"""Bearer-token authentication: required on writes and on anything that starts work when a token is
configured, on reads too when asked.

It runs in the request guard, before anything reads the request body, so a request without a
valid token learns nothing but 401/403.
"""

from __future__ import annotations

import hmac
import re

from starlette.requests import Request

API_PREFIX = "/api/"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Reads that start a process (an export of a checkpoint): they need the token as writes do.
STARTS_WORK = re.compile(r"^/api/v1/experiments/[^/]+/checkpoints/[^/]+/savedmodel$")


def changes_or_starts_work(method: str, path: str) -> bool:
    """Whether a request writes something or starts a process (the token is always required for it)."""
    return method.upper() not in SAFE_METHODS or bool(STARTS_WORK.match(path))


class TokenAuth:
    """Checks `Authorization: Bearer <token>` in constant time."""

    def __init__(self, token: str | None, protect_reads: bool):
        self._token = token.encode() if token else None
        self._protect_reads = protect_reads

    @property
    def enabled(self) -> bool:
        return self._token is not None

    def needs_token(self, method: str, path: str) -> bool:
        """Whether a request of `method` to `path` (a route template will do) must carry the token."""
        if self._token is None or not path.startswith(API_PREFIX):
            return False
        return self._protect_reads or changes_or_starts_work(method, path)

    def refusal(self, request: Request) -> tuple[int, str, dict[str, str]] | None:
        """None if `request` may proceed, else (status, detail, headers) to answer with."""
        if not self.needs_token(request.method, request.url.path):
            return None
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            return (401, "this endpoint needs an API token: send 'Authorization: Bearer <token>'",
                    {"WWW-Authenticate": 'Bearer realm="seedrl"'})
        if not hmac.compare_digest(credentials.strip().encode(), self._token):
            return 403, "the API token is not valid", {}
        return None
