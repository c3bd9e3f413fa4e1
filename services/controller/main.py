"""`seedrl controller`: serve the REST API with uvicorn until SIGINT/SIGTERM."""

from __future__ import annotations

import logging
import os

import uvicorn

from seedrl.controller.app import create_app
from seedrl.controller.config import TOKEN_ENV, ControllerConfig, is_loopback

log = logging.getLogger(__name__)

# Requests still open this long after SIGTERM (waiting for an export, say) are ended, so the
# controller goes on to stop its runs and exports.
GRACEFUL_SHUTDOWN_S = 5


class Exposed(SystemExit):
    """The API would be served beyond this machine without a token."""


def check_exposure(config: ControllerConfig, token: str | None) -> None:
    """Refuse to serve a token-less API on anything but loopback: every local user's experiments would
    be anyone's."""
    if token is None and not is_loopback(config.host):
        raise Exposed(f"seedrl controller: refusing to serve on {config.host} without an API token; set {TOKEN_ENV} "
                      "or --token-file, or bind 127.0.0.1")


def run_controller(config: ControllerConfig) -> None:
    check_exposure(config, config.token())
    app = create_app(config)
    # The token stays in this process: the learners, actors and exports it starts do not inherit it.
    os.environ.pop(TOKEN_ENV, None)
    log.info("controller on http://%s:%d (runtime %s, data in %s); API docs at /docs",
             config.host, config.port, config.runtime, config.data_dir)
    uvicorn.run(app, host=config.host, port=config.port, log_level="info", access_log=False,
                timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S)
