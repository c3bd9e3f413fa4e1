"""Bearer-token authentication: required on writes when a token is configured, on reads when asked."""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request, status


class TokenAuth:
    """A FastAPI dependency checking `Authorization: Bearer <token>` in constant time."""

    def __init__(self, token: str | None, protect_reads: bool):
        self._token = token.encode() if token else None
        self._protect_reads = protect_reads

    def __call__(self, request: Request) -> None:
        if self._token is None or (request.method in ("GET", "HEAD") and not self._protect_reads):
            return
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not credentials:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED, "this endpoint needs an API token: send 'Authorization: Bearer <token>'",
                headers={"WWW-Authenticate": 'Bearer realm="seedrl"'},
            )
        if not hmac.compare_digest(credentials.strip().encode(), self._token):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "the API token is not valid")
