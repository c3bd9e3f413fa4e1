"""A real controller process on loopback for API tests: `seedrl controller` serving a temporary data dir."""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import httpx

from seedrl.common.ports import free_port
from tests.integration.helpers import seedrl, wait_for


@dataclass
class Controller:
    """A running `seedrl controller`; `url` is its base URL, `token` the API token it requires (if any)."""

    process: subprocess.Popen
    url: str
    data_dir: Path
    token: str | None
    log: Path

    def client(self, token: str | None = None) -> httpx.Client:
        """A client with the token (if any) that declares every request JSON, as `seedrl experiments` does
        (a controller without a token takes changes only so)."""
        headers = {"Authorization": f"Bearer {token or self.token}"} if (token or self.token) else {}
        return httpx.Client(base_url=self.url, headers={"Content-Type": "application/json", **headers}, timeout=60)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 120) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout)


def start_controller(data_dir: Path, token: str | None = None, *args: str, port: int | None = None) -> Controller:
    """Start a controller and wait until /readyz says it reconciles."""
    port = port or free_port()
    env = {k: v for k, v in os.environ.items() if k != "SEEDRL_API_TOKEN"}
    if token:
        env["SEEDRL_API_TOKEN"] = token
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / "controller.log"
    with open(log, "ab") as output:
        process = seedrl("controller", "--port", str(port), "--data-dir", str(data_dir), "--poll-s", "0.25", *args,
                         stdout=output, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"the controller exited: {log.read_text()[-3000:]}")
        try:
            return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(ready, 60, what="controller ready")
    return Controller(process, url, data_dir, token, log)
