"""A real Kubernetes control plane for the tests: etcd, kube-apiserver, kube-controller-manager and
kube-scheduler (v1.20.2), built by the project's `kube-control-plane` tool and started here on free ports.

Where the binaries come from (tests/setup_tools.py owns finding and building them, for `make test`'s setup
and for these fixtures alike), in order:
1. `$KCP_HOME/bin` (default `~/.cache/kube-control-plane/bin`) with `etcd` on PATH: used as they are.
2. Otherwise the tool's `build.sh` is run once (about 7 minutes; it caches into `$KCP_HOME`). The tool
   folder is `$SEEDRL_KCP_DIR`, else `<repository>/../shared/tools/kube-control-plane`.
3. Neither binaries nor `build.sh`: `missing_reason()` says so and the tests that need a cluster skip.

`ControlPlane.start()` starts the four processes itself (the tool's `start.sh` takes fixed flags) with the
flags of `start.sh` plus what the tests need: the OwnerReferencesPermissionEnforcement admission plugin
(as OpenShift and hardened clusters run), and controller-manager periods short enough for a test
(node monitor, HPA sync). Every port is a free one, so parallel runs do not clash; the ports are also
exported as the tool's KCP_* variables for anything started from the tests. There is no kubelet:
`tests/kubernetes/kubelet.py` plays it.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import httpx

from seedrl.common.ports import free_port
from tests.setup_tools import KCP_PROGRAMS, kcp_binaries, kcp_dir, kcp_present

VERSION = "v1.20.2"


def missing_reason() -> str | None:
    """Why no control plane can be had here (None: the binaries exist, or build.sh can make them)."""
    if kcp_present() or (kcp_dir() / "build.sh").is_file():
        return None
    return (f"no Kubernetes control plane: neither the binaries ({kcp_binaries()}/{{{','.join(KCP_PROGRAMS)}}} and "
            f"etcd on PATH) nor {kcp_dir()}/build.sh exist (set SEEDRL_KCP_DIR to the kube-control-plane tool folder)")


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the test process dies, however it dies (no orphaned control plane)."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class ControlPlane:
    """The four processes, their run folder and an admin credential (system:masters)."""

    run_dir: Path
    api_port: int = 0
    token: str = ""
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.api_port}"

    @property
    def ca_file(self) -> Path:
        return self.run_dir / "certs" / "apiserver.crt"

    @property
    def admin_kubeconfig(self) -> Path:
        return self.run_dir / "admin.kubeconfig"

    def kubeconfig(self, path: Path, token: str, namespace: str = "default") -> Path:
        """Write a kubeconfig for this server with a bearer token."""
        path.write_text(
            "apiVersion: v1\nkind: Config\n"
            f"clusters: [{{name: local, cluster: {{server: \"{self.url}\", certificate-authority: \"{self.ca_file}\"}}}}]\n"
            f"users: [{{name: user, user: {{token: \"{token}\"}}}}]\n"
            f"contexts: [{{name: local, context: {{cluster: local, user: user, namespace: {namespace}}}}}]\n"
            "current-context: local\n")
        return path

    def start(self, setup: Callable[["ControlPlane"], None] | None = None) -> "ControlPlane":
        """Start etcd and the API server, run `setup` (e.g. install CRDs), then the controllers."""
        run, binaries = self.run_dir, kcp_binaries()
        (run / "etcd").mkdir(parents=True)
        (run / "certs").mkdir()
        etcd_port, etcd_peer, self.api_port = free_port(), free_port(), free_port()
        kcm_port, scheduler_port = free_port(), free_port()
        os.environ.update(KCP_ETCD_PORT=str(etcd_port), KCP_API_PORT=str(self.api_port),
                          KCP_KCM_PORT=str(kcm_port), KCP_SCHED_PORT=str(scheduler_port))
        subprocess.run(["openssl", "genrsa", "-out", str(run / "sa.key"), "2048"], check=True, capture_output=True)
        subprocess.run(["openssl", "rsa", "-in", str(run / "sa.key"), "-pubout", "-out", str(run / "sa.pub")],
                       check=True, capture_output=True)
        self.token = secrets.token_hex(16)
        (run / "tokens.csv").write_text(f"{self.token},admin,admin,system:masters\n")
        self._spawn("etcd", ["etcd", "--data-dir", str(run / "etcd"),
                             "--listen-client-urls", f"http://127.0.0.1:{etcd_port}",
                             "--advertise-client-urls", f"http://127.0.0.1:{etcd_port}",
                             "--listen-peer-urls", f"http://127.0.0.1:{etcd_peer}", "--unsafe-no-fsync"])
        self._spawn("apiserver", [
            str(binaries / "kube-apiserver"), f"--etcd-servers=http://127.0.0.1:{etcd_port}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={self.api_port}",
            f"--cert-dir={run / 'certs'}", "--service-cluster-ip-range=10.0.0.0/24",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={run / 'sa.pub'}", f"--service-account-signing-key-file={run / 'sa.key'}",
            f"--token-auth-file={run / 'tokens.csv'}", "--authorization-mode=RBAC",
            "--enable-admission-plugins=OwnerReferencesPermissionEnforcement",
        ])
        self._wait_ready()
        self.kubeconfig(self.admin_kubeconfig, self.token)
        if setup is not None:
            setup(self)
        common = [f"--kubeconfig={self.admin_kubeconfig}", f"--authentication-kubeconfig={self.admin_kubeconfig}",
                  f"--authorization-kubeconfig={self.admin_kubeconfig}", "--leader-elect=false",
                  "--bind-address=127.0.0.1", "--port=0"]
        self._spawn("kcm", [
            str(binaries / "kube-controller-manager"), *common, f"--secure-port={kcm_port}",
            f"--cert-dir={run / 'kcm-certs'}", f"--service-account-private-key-file={run / 'sa.key'}",
            f"--root-ca-file={self.ca_file}",
            # Test-sized periods: how often nodes are checked, how often HPAs are evaluated.
            "--node-monitor-period=1s", "--horizontal-pod-autoscaler-sync-period=1s",
        ])
        self._spawn("scheduler", [str(binaries / "kube-scheduler"), *common, f"--secure-port={scheduler_port}",
                                  f"--cert-dir={run / 'sched-certs'}"])
        return self

    def _spawn(self, name: str, command: list[str]) -> None:
        log = open(self.run_dir / f"{name}.log", "wb")
        self.processes[name] = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                                start_new_session=True, preexec_fn=_die_with_parent)
        log.close()

    def _wait_ready(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        with httpx.Client(verify=False, headers={"Authorization": f"Bearer {self.token}"}, timeout=2) as client:
            while time.monotonic() < deadline:
                for name, process in self.processes.items():
                    if process.poll() is not None:
                        raise RuntimeError(f"{name} exited with {process.returncode}; see {self.run_dir / name}.log")
                try:
                    if client.get(f"{self.url}/readyz").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
        raise RuntimeError(f"kube-apiserver not ready after {timeout_s:.0f}s; see {self.run_dir}/apiserver.log")

    def stop(self) -> None:
        """Stop the processes (newest first) and drop etcd's data; the logs stay in the run folder."""
        for name in reversed(list(self.processes)):
            process = self.processes[name]
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        shutil.rmtree(self.run_dir / "etcd", ignore_errors=True)
