"""`seedrl controller`: serve the REST API with uvicorn until SIGINT/SIGTERM."""

from __future__ import annotations

import logging

import uvicorn

from seedrl.controller.app import create_app
from seedrl.controller.config import ControllerConfig

log = logging.getLogger(__name__)


def run_controller(config: ControllerConfig) -> None:
    app = create_app(config)
    log.info("controller on http://%s:%d (runtime %s, data in %s); API docs at /docs",
             config.host, config.port, config.runtime, config.data_dir)
    uvicorn.run(app, host=config.host, port=config.port, log_level="info", access_log=False)
