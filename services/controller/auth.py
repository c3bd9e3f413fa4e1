"""Bearer-token authentication: required on writes when a token is configured, on reads when asked.

It runs as middleware, before anything reads the request body, so a request without a
valid token learns nothing but 401/403.
"""

from __future__ import annotations

import hmac

from starlette.requests import Request

API_PREFIX = "/api/"


class TokenAuth:
    """Checks `Authorization: Bearer <token>` in constant time."""

    def __init__(self, token: str | None, protect_reads: bool):
        self._token = token.encode() if token else None
        self._protect_reads = protect_reads

    def refusal(self, request: Request) -> tuple[int, str, dict[str, str]] | None:
        """None if `request` may proceed, else (status, detail, headers) to answer with."""
        if self._token is None or not request.url.path.startswith(API_PREFIX):
            return None
        if request.method in ("GET", "HEAD", "OPTIONS") and not self._protect_reads:
            return None
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            return (401, "this endpoint needs an API token: send 'Authorization: Bearer <token>'",
                    {"WWW-Authenticate": 'Bearer realm="seedrl"'})
        if not hmac.compare_digest(credentials.strip().encode(), self._token):
            return 403, "the API token is not valid", {}
        return None
