"""Probes and the controller's own Prometheus metrics.

They are coroutines run on the event loop itself, never in the thread pool that request work
uses, so they answer at once however busy the API is.
"""

from __future__ import annotations

import prometheus_client as prom
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from seedrl.controller import problems
from seedrl.controller.openapi import declared

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: the runtime reconciles experiments", responses=declared(503))
async def readyz(request: Request) -> JSONResponse:
    if not request.app.state.runtime.ready():
        return problems.problem(request, 503, "not ready: the runtime does not reconcile experiments")
    return JSONResponse({"status": "ready"})


@router.get("/metrics", summary="The controller's metrics (Prometheus text format)",
            responses={200: {"content": {prom.CONTENT_TYPE_LATEST.partition(";")[0]: {}}, "description": "The metrics"}})
async def metrics(request: Request) -> Response:
    return Response(prom.generate_latest(request.app.state.metrics.registry), media_type=prom.CONTENT_TYPE_LATEST)
