"""The controller's FastAPI application: routes, errors, auth, request metrics and the runtime's lifetime."""

from __future__ import annotations

import time
from contextlib import asynccontextmanager
from typing import AsyncIterator, Awaitable, Callable

from fastapi import FastAPI, Request, Response

from seedrl.common import metrics as m
from seedrl.controller import problems
from seedrl.controller.auth import TokenAuth
from seedrl.controller.config import ControllerConfig
from seedrl.controller.routes import experiments, health
from seedrl.controller.runtimes.base import Runtime

DESCRIPTION = """Create, start, stop, resume, scale and delete SEED RL experiments; list and download
their checkpoints; read their status and metrics. Errors are RFC 9457 problem details."""


def build_runtime(config: ControllerConfig, metrics: m.Metrics) -> Runtime:
    if config.runtime == "kubernetes":
        from seedrl.controller.runtimes.kubernetes.options import KubernetesOptions
        from seedrl.controller.runtimes.kubernetes.runtime import KubernetesRuntime

        return KubernetesRuntime.connect(KubernetesOptions.load(config.kubernetes_config), metrics,
                                         config.max_active_experiments, config.poll_s, config.checkpoints_dir)
    from seedrl.controller.runtimes.local import LocalRuntime

    return LocalRuntime(config.data_dir, metrics, max_active=config.max_active_experiments, poll_s=config.poll_s)


def create_app(config: ControllerConfig) -> FastAPI:
    metrics = m.Metrics("", "controller")
    runtime = build_runtime(config, metrics)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime.open()
        try:
            yield
        finally:
            runtime.close()

    app = FastAPI(title="seedrl controller", version="v1", description=DESCRIPTION, lifespan=lifespan)
    app.state.runtime = runtime
    app.state.metrics = metrics
    auth = TokenAuth(config.token(), config.protect_reads)
    problems.install(app)
    app.include_router(experiments.router)
    app.include_router(health.router)

    @app.middleware("http")
    async def authenticate(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        refusal = auth.refusal(request)
        if refusal is not None:
            status, detail, headers = refusal
            return problems.problem(request, status, detail, headers=headers)
        return await call_next(request)

    # Added last, so it runs first: requests refused by `authenticate` are counted too.
    @app.middleware("http")
    async def count_requests(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        metrics(m.CONTROLLER_REQUESTS, route=template, method=request.method, status=str(response.status_code)).inc()
        metrics(m.CONTROLLER_REQUEST_LATENCY, route=template).observe(time.perf_counter() - started)
        return response

    return app
