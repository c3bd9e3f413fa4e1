"""Child processes of a local run: started with logs in the run folder, never left behind."""

from __future__ import annotations

import ctypes
import logging
import signal
import subprocess
import sys
from pathlib import Path

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child: receive SIGTERM when the launching process dies (Linux)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


class ProcessGroup:
    """Named `python -m seedrl.cli ...` children, each logging to `<logdir>/logs/<name>.log`."""

    def __init__(self, logdir: Path):
        self._logs = logdir / "logs"
        self._logs.mkdir(parents=True, exist_ok=True)
        self.processes: dict[str, subprocess.Popen] = {}

    def log_path(self, name: str) -> Path:
        return self._logs / f"{name}.log"

    def start(self, name: str, args: list[str]) -> subprocess.Popen:
        with open(self.log_path(name), "ab") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "seedrl.cli", *args],
                stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                # Own session: Ctrl-C reaches only the launcher, which shuts children down in order.
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
            )
        self.processes[name] = process
        return process

    def stop(self, names: list[str], timeout: float) -> None:
        """SIGTERM the named children, wait up to `timeout` seconds, then SIGKILL what is left."""
        running = [self.processes[n] for n in names if n in self.processes and self.processes[n].poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        for process in running:
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("pid %d ignored SIGTERM for %.0fs; killing it", process.pid, timeout)
                process.kill()
                process.wait()

    def stop_all(self, timeout: float) -> None:
        self.stop(list(self.processes), timeout)
