"""Probes and the controller's own Prometheus metrics."""

from __future__ import annotations

import prometheus_client as prom
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process answers")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: the runtime reconciles experiments")
def readyz(request: Request) -> JSONResponse:
    ready = request.app.state.runtime.ready()
    return JSONResponse({"status": "ready" if ready else "not ready"}, status_code=200 if ready else 503)


@router.get("/metrics", summary="The controller's metrics (Prometheus text format)")
def metrics(request: Request) -> Response:
    return Response(prom.generate_latest(request.app.state.metrics.registry), media_type=prom.CONTENT_TYPE_LATEST)
