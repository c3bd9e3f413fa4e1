"""Every error as one JSON shape: RFC 9457 problem details (`application/problem+json`).

No error body carries a traceback or a path of the server: an unexpected error answers 500 with
an incident number, and the traceback goes to the controller's log under that number.
"""

from __future__ import annotations

import logging
import uuid
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from seedrl.controller.exports import ExportFailed
from seedrl.controller.models import Problem
from seedrl.controller.runtimes.base import Conflict, Invalid, NotFound, TooBusy

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"


def problem(request: Request, status: int, detail: str, errors: list[dict[str, str]] | None = None,
            headers: dict[str, str] | None = None) -> JSONResponse:
    body = Problem(title=HTTPStatus(status).phrase, status=status, detail=detail, instance=request.url.path, errors=errors)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _field(location: tuple) -> str:
    """`("body", "vtrace", "discount")` -> `vtrace.discount`; query and path parameters keep their source."""
    parts = [str(part) for part in location]
    if parts and parts[0] == "body":
        parts = parts[1:]
    return ".".join(parts) or "body"


def install(app: FastAPI) -> None:
    """Turn validation errors, HTTP errors and runtime errors into problem details."""

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = [{"field": _field(tuple(e["loc"])), "reason": e["msg"]} for e in error.errors()]
        detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
        return problem(request, 422, detail, errors)

    @app.exception_handler(Invalid)
    async def _invalid_for_state(request: Request, error: Invalid) -> JSONResponse:
        return problem(request, 422, str(error), [{"field": error.field, "reason": error.reason}])

    @app.exception_handler(HTTPException)
    async def _http(request: Request, error: HTTPException) -> JSONResponse:
        return problem(request, error.status_code, str(error.detail), headers=getattr(error, "headers", None))

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, error: NotFound) -> JSONResponse:
        return problem(request, 404, str(error.args[0]))

    @app.exception_handler(Conflict)
    async def _conflict(request: Request, error: Conflict) -> JSONResponse:
        return problem(request, 409, str(error))

    @app.exception_handler(TooBusy)
    async def _too_busy(request: Request, error: TooBusy) -> JSONResponse:
        return problem(request, 429, str(error), headers={"Retry-After": str(error.retry_after_s)})

    @app.exception_handler(ExportFailed)
    async def _export_failed(request: Request, error: ExportFailed) -> JSONResponse:
        return problem(request, 500, str(error))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        incident = uuid.uuid4().hex[:12]
        log.error("incident %s: %s %s failed", incident, request.method, request.url.path, exc_info=error)
        return problem(request, 500, f"internal error (incident {incident}); the controller's log has the details")
