"""The programs the test suite needs beyond the virtualenv, installed once and cached.

`python -m tests.setup_tools` (`make test` and `make test-quick` run it before pytest) makes sure of:
- the Prometheus server and promtool: Debian's `prometheus` package, through apt (as root, or with sudo);
- helm, kubectl and checkov: fetched by `tests.helm.tools` into ~/.cache/seedrl/tools;
- a real Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler): built by
  `build.sh` in $SEEDRL_KCP_DIR (default: `../shared/tools/kube-control-plane` beside the repository) into
  $KCP_HOME (default: ~/.cache/kube-control-plane) when they are not there yet, about 7 minutes.

Each step looks first and does nothing when its programs are there, so on a machine that has everything it
takes well under a second. When something is missing and cannot be installed from here (no apt, not root and no
password-less sudo, no build.sh), it installs nothing, prints one message that names everything to install,
and exits with status 2, before any test runs.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from tests.helm import tools as chart_tools

ROOT = Path(__file__).resolve().parents[1]
LOCK = Path.home() / ".cache" / "seedrl" / "setup-tools.lock"
APT_PACKAGE = "prometheus"  # Debian 12: Prometheus 2.42 with promtool
KCP_PROGRAMS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
CANNOT_INSTALL = 2


def kcp_dir() -> Path:
    """The folder of the control plane's build.sh, start.sh and stop.sh ($SEEDRL_KCP_DIR, else
    ../shared/tools/kube-control-plane beside the repository)."""
    default = ROOT.parent / "shared" / "tools" / "kube-control-plane"
    return Path(os.environ.get("SEEDRL_KCP_DIR", default)).resolve()


def kcp_home() -> Path:
    """Where build.sh caches the control plane's binaries (its KCP_HOME, default ~/.cache/kube-control-plane)."""
    return Path(os.environ.get("KCP_HOME", Path.home() / ".cache" / "kube-control-plane"))


def kcp_binaries() -> Path:
    """The folder of the built kube-apiserver, kube-controller-manager and kube-scheduler."""
    return kcp_home() / "bin"


def kcp_present() -> bool:
    """The control plane's programs are built (in kcp_binaries()) and etcd is on PATH."""
    return all(os.access(kcp_binaries() / program, os.X_OK) for program in KCP_PROGRAMS) and bool(shutil.which("etcd"))


def build_kcp() -> None:
    """Run build.sh into kcp_home() unless the programs are there, under a lock in kcp_home(), so that test
    runs starting together (`make test`'s setup, the Kubernetes tests' fixture) build it once."""
    with _locked(kcp_home() / ".build.lock"):
        if not kcp_present():
            subprocess.run(["bash", str(kcp_dir() / "build.sh")], check=True, timeout=3600,
                           env={**os.environ, "KCP_HOME": str(kcp_home())})


@dataclass(frozen=True)
class Installer:
    """How apt can be run here: `prefix` before `apt-get` (empty as root, sudo otherwise), or why it cannot."""

    prefix: tuple[str, ...] | None
    why_not: str = ""


def apt_installer(is_root: bool, which: Callable[[str], str | None], sudo_works: Callable[[], bool]) -> Installer:
    """Whether apt-get can install packages: as root, or through sudo without a password."""
    if which("apt-get") is None:
        return Installer(None, "apt-get is not available")
    if is_root:
        return Installer(())
    if which("sudo") is None:
        return Installer(None, "not root, and sudo is not installed")
    if not sudo_works():
        return Installer(None, "not root, and sudo asks for a password")
    return Installer(("sudo", "-n"))


def _sudo_works() -> bool:
    return subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0


@dataclass(frozen=True)
class Step:
    """One tool: whether it is present, how to install it, what to tell a person who must install it."""

    name: str
    present: Callable[[], bool]
    install: Callable[[], None]
    manual: str
    blocked: Callable[[], str]  # why it cannot be installed from here ("" when it can)


def _prometheus_present() -> bool:
    return all(shutil.which(program) for program in ("prometheus", "promtool"))


def _chart_tools_present() -> bool:
    cache = chart_tools.CACHE
    return all(path.exists() for path in (cache / "bin" / "helm", cache / "bin" / "kubectl",
                                          cache / "checkov-venv" / "bin" / "checkov"))


def steps(installer: Installer) -> list[Step]:
    """The suite's tools, in the order they are installed."""
    sudo = "" if os.geteuid() == 0 else "sudo "

    def apt_install() -> None:
        apt = [*installer.prefix, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "-o", "DPkg::Lock::Timeout=600"]
        subprocess.run([*apt, "update", "-qq"], check=True)
        subprocess.run([*apt, "install", "-y", "-qq", "--no-install-recommends", APT_PACKAGE], check=True,
                       stdout=subprocess.DEVNULL)

    def chart_tools_install() -> None:
        chart_tools.helm()
        chart_tools.checkov()

    def kcp_blocked() -> str:
        if not (kcp_dir() / "build.sh").is_file():
            return f"{kcp_dir()} has no build.sh"
        return installer.why_not

    return [
        Step(
            "the Prometheus server and promtool",
            _prometheus_present,
            apt_install,
            f"`{sudo}apt-get install prometheus` (Debian/Ubuntu), or Prometheus 2.x from prometheus.io with "
            "`prometheus` and `promtool` on PATH",
            lambda: installer.why_not,
        ),
        Step(
            "helm, kubectl and checkov",
            _chart_tools_present,
            chart_tools_install,
            f"`{sys.executable} -m tests.helm.tools` (needs PyPI); it caches them in {chart_tools.CACHE}",
            lambda: "",
        ),
        Step(
            "the Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler)",
            kcp_present,
            build_kcp,
            f"`bash build.sh` in the kube-control-plane folder ({kcp_dir()}; SEEDRL_KCP_DIR names another), as "
            f"root or as a user who may sudo: it installs golang-go and etcd-server with apt and builds into "
            f"{kcp_home()} (minutes)",
            kcp_blocked,
        ),
    ]


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created if need be) while the block runs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def ensure(tools: list[Step]) -> int:
    """Install every missing tool, or none when one cannot be installed: 0 when all are present, else 2."""
    missing = [step for step in tools if not step.present()]
    blocked = [(step, step.blocked()) for step in missing]
    blocked = [(step, why) for step, why in blocked if why]
    if blocked:
        lines = [f"  - {step.name}: {step.manual}\n    (cannot install it from here: {why})" for step, why in blocked]
        print("The tests need programs that are missing here:\n" + "\n".join(lines)
              + "\nInstall them, then run the tests again. No test was run.", file=sys.stderr)
        return CANNOT_INSTALL
    with _locked(LOCK):  # two test runs starting together would race in apt and the caches
        for step in missing:
            if step.present():  # another run installed it while this one waited for the lock
                continue
            try:
                step.install()
                failure = "" if step.present() else "it is still missing afterwards"
            except (subprocess.CalledProcessError, OSError) as error:
                failure = str(error)
            if failure:
                print(f"Installing {step.name} failed: {failure}.\nInstall it by hand: {step.manual}\n"
                      "No test was run.", file=sys.stderr)
                return CANNOT_INSTALL
    return 0


def main() -> int:
    installer = apt_installer(os.geteuid() == 0, shutil.which, _sudo_works)
    return ensure(steps(installer))


if __name__ == "__main__":
    sys.exit(main())
