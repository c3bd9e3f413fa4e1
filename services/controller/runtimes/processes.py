"""Child processes of a local run: started with logs in the run folder, stopped in order, never left behind.

A process is either a child this process started (`subprocess.Popen`) or one an
earlier controller started and this one adopted by pid (`AdoptedProcess`), so a
restarted controller keeps supervising the runs it finds. Children inherit the
environment without the controller's API token: env code runs in them.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from seedrl.common.defaults import API_TOKEN_ENV
from seedrl.common.run_folder import RunFolder

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child: receive SIGTERM when the launching process dies (Linux)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


def process_start_ticks(pid: int) -> int | None:
    """When `pid` started (clock ticks since boot), or None if no such live process.

    Together with the pid this names one process for good: a pid reused later has
    another start time.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":  # exited, not yet reaped
        return None
    return int(fields[19])


def child_environment() -> dict[str, str]:
    """This process's environment without what no learner or actor needs: the controller's API token."""
    return {name: value for name, value in os.environ.items() if name != API_TOKEN_ENV}


class Process(Protocol):
    """What supervision needs of a process; `subprocess.Popen` has it."""

    pid: int
    returncode: int | None

    def poll(self) -> int | None: ...
    def send_signal(self, sig: int) -> None: ...
    def kill(self) -> None: ...
    def wait(self, timeout: float | None = None) -> int: ...


@dataclass
class AdoptedProcess:
    """A process started by an earlier controller; its exit code is unknown (reported as -1)."""

    pid: int
    start_ticks: int
    returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None and process_start_ticks(self.pid) != self.start_ticks:
            self.returncode = -1
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                self.returncode = -1

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout or 0)
            time.sleep(0.05)
        return self.returncode


class ProcessGroup:
    """Named `python -m seedrl.cli ...` children, each logging to `<logdir>/logs/<name>.log`.

    With `die_with_parent`, children get SIGTERM when this process dies (`seedrl train`);
    without it they outlive it, to be adopted by the next controller.
    """

    def __init__(self, logdir: Path, die_with_parent: bool = True):
        self._logs = RunFolder(logdir).logs
        self._logs.mkdir(parents=True, exist_ok=True)
        self._die_with_parent = die_with_parent and sys.platform.startswith("linux")
        self.processes: dict[str, Process] = {}

    def log_path(self, name: str) -> Path:
        return self._logs / f"{name}.log"

    def start(self, name: str, args: list[str]) -> Process:
        with open(self.log_path(name), "ab") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "seedrl.cli", *args],
                stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=child_environment(),
                # Own session: Ctrl-C reaches only the launcher, which shuts children down in order.
                start_new_session=True,
                preexec_fn=_die_with_parent if self._die_with_parent else None,
            )
        self.processes[name] = process
        return process

    def adopt(self, name: str, pid: int, start_ticks: int) -> bool:
        """Supervise a process an earlier launcher started; False if it is gone."""
        process = AdoptedProcess(pid, start_ticks)
        if process.poll() is not None:
            return False
        self.processes[name] = process
        return True

    def alive(self, name: str) -> bool:
        process = self.processes.get(name)
        return process is not None and process.poll() is None

    def records(self) -> dict[str, tuple[int, int]]:
        """(pid, start ticks) of each live process, to adopt them later."""
        found = {}
        for name, process in self.processes.items():
            ticks = process_start_ticks(process.pid) if process.poll() is None else None
            if ticks is not None:
                found[name] = (process.pid, ticks)
        return found

    def stop(self, names: list[str], timeout: float) -> None:
        """SIGTERM the named processes, wait up to `timeout` seconds, then SIGKILL what is left."""
        running = [self.processes[n] for n in names if self.alive(n)]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in running:
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("pid %d ignored SIGTERM for %.0fs; killing it", process.pid, timeout)
                process.kill()
                process.wait()
