"""tests/setup_tools.py: what `make test` does before any test when programs are missing.

The "no Prometheus, no apt" machine is this one with a PATH that holds neither: nothing is uninstalled.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests import setup_tools
from tests.setup_tools import Installer, Step, apt_installer, ensure

ROOT = Path(__file__).resolve().parents[2]


def which_of(*programs: str):
    return lambda name: f"/usr/bin/{name}" if name in programs else None


def test_apt_runs_as_root_or_through_password_less_sudo():
    assert apt_installer(True, which_of("apt-get"), lambda: False) == Installer(())
    assert apt_installer(False, which_of("apt-get", "sudo"), lambda: True) == Installer(("sudo", "-n"))
    assert "sudo asks for a password" in apt_installer(False, which_of("apt-get", "sudo"), lambda: False).why_not
    assert "sudo is not installed" in apt_installer(False, which_of("apt-get"), lambda: True).why_not
    assert "apt-get is not available" in apt_installer(True, which_of("sudo"), lambda: True).why_not


def step(name: str, present: bool, installed: list[str], blocked: str = "", installs: bool = True) -> Step:
    state = {"present": present}

    def install() -> None:
        installed.append(name)
        state["present"] = installs

    return Step(name, lambda: state["present"], install, f"install {name} by hand", lambda: blocked)


def test_installs_only_what_is_missing(capsys):
    installed: list[str] = []
    assert ensure([step("a", True, installed), step("b", False, installed)]) == 0
    assert installed == ["b"]
    assert capsys.readouterr().err == ""


def test_one_blocked_tool_stops_everything_with_one_message(capsys):
    installed: list[str] = []
    tools = [step("a", False, installed), step("b", False, installed, blocked="no apt"),
             step("c", False, installed, blocked="no sudo")]
    assert ensure(tools) == setup_tools.CANNOT_INSTALL
    assert installed == []
    message = capsys.readouterr().err
    assert "install b by hand" in message and "no apt" in message
    assert "install c by hand" in message and "no sudo" in message
    assert "install a by hand" not in message  # `a` can be installed here: only what a person must do is named
    assert "No test was run" in message


def test_an_install_that_leaves_the_tool_missing_is_a_failure(capsys):
    installed: list[str] = []
    assert ensure([step("a", False, installed, installs=False)]) == setup_tools.CANNOT_INSTALL
    assert "still missing" in capsys.readouterr().err


def setup_without_apt(tmp_path: Path, kcp_scripts: Path) -> subprocess.CompletedProcess[str]:
    """Run the setup with a PATH that has no prometheus, promtool, apt-get, sudo or etcd, and empty caches."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    env = {**os.environ, "PATH": str(bin_dir), "SEEDRL_TOOLS": str(tmp_path / "tools"),
           "KCP_HOME": str(tmp_path / "kcp"), "SEEDRL_KCP_DIR": str(kcp_scripts)}
    return subprocess.run([sys.executable, "-m", "tests.setup_tools"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)


def test_without_prometheus_or_apt_it_installs_nothing_and_says_what_to_install(tmp_path):
    scripts = tmp_path / "kube-control-plane"
    scripts.mkdir()
    for name in ("build.sh", "start.sh"):
        (scripts / name).write_text("exit 1\n")
    result = setup_without_apt(tmp_path, scripts)
    assert result.returncode == setup_tools.CANNOT_INSTALL, result.stderr
    assert "apt-get install prometheus" in result.stderr
    assert "`bash build.sh` in the kube-control-plane folder" in result.stderr and str(scripts) in result.stderr
    assert result.stderr.count("apt-get is not available") == 2
    assert not (tmp_path / "tools").exists()  # helm could be fetched, but nothing is installed when one cannot be


def test_without_the_control_plane_scripts_it_names_the_folder(tmp_path):
    result = setup_without_apt(tmp_path, tmp_path / "elsewhere")
    assert result.returncode == setup_tools.CANNOT_INSTALL, result.stderr
    assert f"{tmp_path / 'elsewhere'} has no build.sh" in result.stderr
    assert "SEEDRL_KCP_DIR names another" in result.stderr


def test_the_control_plane_is_built_once_then_found_in_its_cache(tmp_path, monkeypatch):
    """A build.sh that writes empty programs and an empty etcd stands in for the real 7-minute build."""
    scripts, home, etcd = tmp_path / "kube-control-plane", tmp_path / "kcp", tmp_path / "etcd-bin"
    scripts.mkdir()
    etcd.mkdir()
    monkeypatch.setenv("PATH", f"{etcd}:{os.environ['PATH']}")
    (scripts / "build.sh").write_text(
        f'echo built >> {tmp_path / "builds"}; mkdir -p "$KCP_HOME/bin"; cd "$KCP_HOME/bin"\n'
        "for p in kube-apiserver kube-controller-manager kube-scheduler; do printf '' > $p; chmod +x $p; done\n"
        f"printf '' > {etcd}/etcd; chmod +x {etcd}/etcd\n"
    )
    monkeypatch.setenv("SEEDRL_KCP_DIR", str(scripts))
    monkeypatch.setenv("KCP_HOME", str(home))
    (kcp,) = [tool for tool in setup_tools.steps(Installer(())) if "Kubernetes" in tool.name]
    assert not kcp.present()
    assert ensure([kcp]) == 0 and ensure([kcp]) == 0
    assert kcp.present()
    assert (tmp_path / "builds").read_text() == "built\n"  # the second run found the cache and built nothing


def test_the_kubernetes_fixtures_look_for_the_control_plane_where_the_setup_builds_it(tmp_path, monkeypatch):
    """One place says where the control plane is: the fixtures' reason to skip names the setup's folders,
    as the environment says them when asked (not when the module was imported)."""
    from tests.kubernetes import control_plane

    scripts, home = tmp_path / "kube-control-plane", tmp_path / "kcp"
    monkeypatch.setenv("SEEDRL_KCP_DIR", str(scripts))
    monkeypatch.setenv("KCP_HOME", str(home))
    reason = control_plane.missing_reason()
    assert reason is not None and f"{scripts}/build.sh" in reason and str(setup_tools.kcp_binaries()) in reason
    assert setup_tools.kcp_binaries() == home / "bin"
    scripts.mkdir()
    (scripts / "build.sh").write_text("exit 1\n")
    assert control_plane.missing_reason() is None  # build.sh can make it
