"""The controller's FastAPI application: routes, errors, the request guard, request metrics, API docs
served from local files, and the lifetime of the runtime and of the export jobs."""

from __future__ import annotations

import time
from contextlib import asynccontextmanager
from importlib.resources import files
from typing import AsyncIterator

from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from seedrl.common import metrics as m
from seedrl.controller import openapi, problems
from seedrl.controller.auth import TokenAuth
from seedrl.controller.config import ControllerConfig
from seedrl.controller.exports import ExportJobs
from seedrl.controller.guard import RequestGuard
from seedrl.controller.known_query import known_query_only
from seedrl.controller.routes import experiments, health
from seedrl.controller.runtimes.base import Runtime

DESCRIPTION = """Create, start, stop, resume, scale and delete SEED RL experiments; list and download
their checkpoints; read their status and metrics. Errors are RFC 9457 problem details."""
# Swagger UI's and ReDoc's files, from the fastapi-offline package: /docs needs no CDN.
ASSETS = "/docs-assets"


def build_runtime(config: ControllerConfig, metrics: m.Metrics) -> Runtime:
    if config.runtime == "kubernetes":
        from seedrl.controller.runtimes.kubernetes.options import KubernetesOptions
        from seedrl.controller.runtimes.kubernetes.runtime import KubernetesRuntime

        return KubernetesRuntime.connect(KubernetesOptions.load(config.kubernetes_config), metrics,
                                         config.max_active_experiments, config.poll_s, config.checkpoints_dir)
    from seedrl.controller.runtimes.bounds import LocalBounds
    from seedrl.controller.runtimes.local import LocalRuntime

    return LocalRuntime(config.data_dir, metrics, LocalBounds(config), max_active=config.max_active_experiments,
                        poll_s=config.poll_s)


class RequestMetrics:
    """Counts every request (refused ones too) by route template, method and status, and times it."""

    def __init__(self, app: ASGIApp, metrics: m.Metrics):
        self.app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            template = getattr(scope.get("route"), "path", "unmatched")
            self._metrics(m.CONTROLLER_REQUESTS, route=template, method=scope["method"], status=str(status)).inc()
            self._metrics(m.CONTROLLER_REQUEST_LATENCY, route=template).observe(time.perf_counter() - started)


def _docs(app: FastAPI) -> None:
    """Swagger UI at /docs and ReDoc at /redoc, with their files served from this process."""
    app.mount(ASSETS, StaticFiles(directory=str(files("fastapi_offline") / "static")), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} - API",
                                   swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{ASSETS}/swagger-ui.css", swagger_favicon_url=f"{ASSETS}/favicon.png")

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url="/openapi.json", title=f"{app.title} - API", redoc_js_url=f"{ASSETS}/redoc.standalone.js",
                              redoc_favicon_url=f"{ASSETS}/favicon.png", with_google_fonts=False)


def create_app(config: ControllerConfig) -> FastAPI:
    metrics = m.Metrics("", "controller")
    runtime = build_runtime(config, metrics)
    exports = ExportJobs(config.export_concurrency, config.export_queue, config.export_timeout_s)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime.open()
        try:
            yield
        finally:
            await exports.close()
            runtime.close()

    app = FastAPI(title="seedrl controller", version="v1", description=DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None, dependencies=[Depends(known_query_only)])
    app.state.runtime = runtime
    app.state.metrics = metrics
    app.state.exports = exports
    problems.install(app)
    app.include_router(experiments.router)
    app.include_router(health.router)
    _docs(app)
    auth = TokenAuth(config.token(), config.protect_reads)
    app.openapi = lambda: openapi.document(app, auth)  # type: ignore[method-assign]
    app.add_middleware(RequestGuard, auth=auth, max_body_bytes=config.max_body_bytes, allowed_hosts=config.allowed_hosts)
    app.add_middleware(RequestMetrics, metrics=metrics)  # added last, so it runs first: refusals are counted
    return app
