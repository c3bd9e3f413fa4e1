"""docs/gke.md's commands, checked against the tools themselves.

Every `gcloud`, `kubectl`, `helm`, `skaffold` and `docker` command in the guide (its shell blocks, the
`$(...)` inside them, and inline code that starts with one of those tools) is split into words; the
subcommand is found by asking the tool's `--help` whether a word names a subcommand, and every flag must
appear in that subcommand's `--help`. gcloud is the machine's own CLI (528); helm and kubectl are the
test suite's (tests/helm/tools.py). No skaffold or docker binary runs here: their flags are checked
against the flag lists below, taken from their CLI references. The guide's `helm install` is rendered
by the real helm with its exact values.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from seedrl.spec.node_shapes import SHAPES
from tests.helm import tools

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "gke.md"
TOOLS = ("gcloud", "kubectl", "helm", "skaffold", "docker")
# The guide's variables, as section 1 and 2 set them.
ENV = {"PROJECT": "my-rl-project", "REGION": "us-central1", "ZONE": "us-central1-a", "CLUSTER": "seedrl",
       "BUCKET": "my-rl-project-seedrl", "REPO": "us-central1-docker.pkg.dev/my-rl-project/seedrl",
       "NODE_SA": "123-compute@developer.gserviceaccount.com", "WI": "principal://x/ns/seedrl/sa",
       "SEEDRL_URL": "http://localhost:8080", "SEEDRL_API_TOKEN": "t", "H": "h"}
# Flags of the commands the guide runs with tools that are not installed here (their CLI references).
DOCUMENTED_FLAGS = {
    ("skaffold", "run"): {"-p", "--profile", "--default-repo"},
    ("skaffold", "dev"): {"-p", "--profile", "--default-repo"},
    ("docker", "build"): {"-f", "--file", "-t", "--tag", "--platform", "--target", "--build-arg"},
    ("docker", "push"): set(),
}
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def code_of(markdown: str) -> list[str]:
    """Shell lines of the guide: its sh blocks (continuations joined) and inline code naming a tool."""
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", markdown, re.DOTALL):
        lines += [line for line in block.replace("\\\n", " ").splitlines() if line.strip()]
    prose = re.sub(r"```.*?```", "", markdown, flags=re.DOTALL)
    lines += [span for span in re.findall(r"`([^`\n]+)`", prose) if span.split()[0] in TOOLS]
    return lines


def commands_in(line: str) -> list[list[str]]:
    """The tool commands of one shell line, as words: `$(...)` contents first, then the line's own parts."""
    found = []
    for inner in re.findall(r"\$\(([^()]*(?:\([^()]*\)[^()]*)*)\)", line):
        found += commands_in(inner)
    line = re.sub(r"\$\((?:[^()]|\([^()]*\))*\)", "SUBSTITUTED", line).split(" #")[0]
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError:  # inline code with an unbalanced quote (an excerpt): not a whole command
        return found
    command: list[str] = []
    for token in [*tokens, ";"]:
        if token.strip(";&|"):
            command.append(token)
            continue
        while command and "=" in command[0] and not command[0].startswith("-"):  # VAR=value before the command
            command = command[1:]
        if len(command) >= 2 and command[0] in TOOLS:  # a tool's bare name in prose is no command
            found.append(command)
        command = []
    return found


def guide_commands() -> list[list[str]]:
    return [words for line in code_of(GUIDE.read_text()) for words in commands_in(line)]


def binary(tool: str) -> str:
    return {"helm": str(tools.helm()), "kubectl": str(tools.kubectl())}.get(tool, tool)


@functools.cache
def help_text(tool: str, path: tuple[str, ...]) -> str | None:
    """`TOOL PATH --help` without formatting, or None when PATH is not a command of TOOL."""
    env = {**os.environ, "CLOUDSDK_CORE_DISABLE_PROMPTS": "1", "PAGER": "cat", "CLOUDSDK_CORE_PAGER": ""}
    result = subprocess.run([binary(tool), *path, "--help"], capture_output=True, text=True, env=env, timeout=120)
    if result.returncode != 0:
        return None
    text = ANSI.sub("", result.stdout)
    if tool == "kubectl":
        text += help_text_of_options()
    return text


@functools.cache
def help_text_of_options() -> str:
    """kubectl's global flags (`kubectl options`), which subcommand help only mentions."""
    return subprocess.run([str(tools.kubectl()), "options"], capture_output=True, text=True, check=True).stdout


def is_group(tool: str, text: str) -> bool:
    if tool == "gcloud":
        return bool(re.search(r"^(GROUPS|COMMANDS)$", text, re.MULTILINE))
    return re.search(r"^[A-Z][A-Za-z ()]*Commands[A-Za-z ()]*:$", text, re.MULTILINE) is not None


def subcommands(text: str) -> set[str]:
    """The names a help text lists as indented first words of its lines (its subcommands among them)."""
    return set(re.findall(r"^\s+([a-z][a-z0-9-]*)(?:\s|$)", text, re.MULTILINE))


GLOBAL_WITH_VALUE = {"-n", "--namespace", "--context", "--kubeconfig", "--project", "--zone"}


def split_command(words: list[str]) -> tuple[str, tuple[str, ...], list[str]]:
    """(tool, subcommand path, flags) of a command; words after `--` belong to another program."""
    tool, rest = words[0], words[1:]
    if "--" in rest:
        rest = rest[:rest.index("--")]
    leading: list[str] = []
    while rest and rest[0] in GLOBAL_WITH_VALUE:  # kubectl -n seedrl get ...
        leading += rest[:1]
        rest = rest[2:]
    path: list[str] = []
    if tool in ("skaffold", "docker"):
        path = rest[:1]
    else:
        while rest and re.fullmatch(r"[a-z][a-z0-9-]*", rest[0]):
            text = help_text(tool, tuple(path))
            if text is None or not is_group(tool, text) or rest[0] not in subcommands(text):
                break
            path.append(rest.pop(0))
    flags = leading + [word.split("=")[0] for word in rest if word.startswith("-") and word != "-"]
    return tool, tuple(path), flags


def flag_listed(flag: str, text: str) -> bool:
    return re.search(rf"(^|[\s\[,])({re.escape(flag)})([\s=,\[\]]|$)", text, re.MULTILINE) is not None


GUIDE_COMMANDS = guide_commands()


def test_the_guide_runs_each_tool_it_documents():
    tools_used = {words[0] for words in GUIDE_COMMANDS}
    assert tools_used == set(TOOLS)
    assert len(GUIDE_COMMANDS) >= 40  # every block, inline command and $(...) of the guide


@pytest.mark.parametrize("words", GUIDE_COMMANDS, ids=lambda words: " ".join(words[:4]))
def test_every_flag_of_the_guide_is_one_the_tool_knows(words):
    if words[0] == "gcloud" and shutil.which("gcloud") is None:
        pytest.skip("the gcloud CLI is not installed on this machine")
    tool, path, flags = split_command(words)
    if tool in ("skaffold", "docker"):
        assert (tool, *path) in DOCUMENTED_FLAGS, f"{' '.join(words)}: not a command the test knows"
        unknown = [flag for flag in flags if flag not in DOCUMENTED_FLAGS[(tool, *path)]]
    else:
        text = help_text(tool, path)
        assert text is not None, f"{tool} {' '.join(path)} is not a {tool} command"
        if tool == "gcloud":  # kubectl and helm commands may have subcommands of their own (kubectl apply)
            assert not is_group(tool, text), f"{tool} {' '.join(path)} names a group, not a command"
        unknown = [flag for flag in flags if not flag_listed(flag, text)]
    assert not unknown, f"{' '.join(words)}: {tool} {' '.join(path)} has no {', '.join(unknown)}"


def test_a_misspelt_flag_is_caught():
    tool, path, flags = split_command(["helm", "install", "seedrl", "helm/seedrl", "--valuse", "x"])
    assert path == ("install",) and not flag_listed("--valuse", help_text(tool, path))
    tool, path, _ = split_command(["kubectl", "-n", "seedrl", "create", "serviceaccount", "x"])
    assert path == ("create", "serviceaccount")


def test_the_tpu_pool_is_in_the_clusters_zone():
    for words in GUIDE_COMMANDS:
        if words[:3] == ["gcloud", "container", "node-pools"] or words[:3] == ["gcloud", "container", "clusters"]:
            zones = [words[index + 1] for index, word in enumerate(words) if word == "--zone"]
            assert zones == ["$ZONE"], " ".join(words)


def test_the_cluster_keeps_the_default_addons_and_enforces_network_policies():
    (create,) = [w for w in GUIDE_COMMANDS if w[:4] == ["gcloud", "container", "clusters", "create"]]
    addons = set(create[create.index("--addons") + 1].split(","))
    assert {"HorizontalPodAutoscaling", "HttpLoadBalancing", "GcsFuseCsiDriver"} <= addons
    assert "--enable-dataplane-v2" in create


def test_node_pulls_are_granted_and_quotas_checked_before_the_cluster():
    text = GUIDE.read_text()
    assert "roles/artifactregistry.reader" in text
    assert text.index("NVIDIA_L4_GPUS") < text.index("gcloud container clusters create")


def substitute(word: str) -> str:
    return re.sub(r"\$([A-Z_]+)", lambda match: ENV[match.group(1)], word)


def test_the_guides_helm_install_renders_with_its_exact_values():
    (install,) = [w for w in GUIDE_COMMANDS if w[:3] == ["helm", "install", "seedrl"]]
    args = [substitute(word) for word in install[2:]]
    args = [str(ROOT / arg) if not arg.startswith("-") and (ROOT / arg).exists() else arg for arg in args]
    output = tools.run_helm("template", *args)
    assert "kind: Deployment" in output and "my-rl-project-seedrl" in output
    assert "--checkpoints-dir=/checkpoints" in output and "kind: PodMonitoring" in output


def test_images_are_built_for_the_nodes_platform():
    builds = [words for words in GUIDE_COMMANDS if words[:2] == ["docker", "build"]]
    assert len(builds) == 3
    for words in builds:
        assert words[words.index("--platform") + 1] == "linux/amd64", " ".join(words)


def test_the_guides_figures_are_the_node_shapes():
    """The largest learner request the guide quotes is what seedrl.spec.node_shapes computes."""
    cpu, memory = SHAPES["g2-standard-8"].largest_learner_request()
    assert f"(on `g2-standard-8`: {cpu}m CPU and {memory}Mi)" in " ".join(GUIDE.read_text().split())
    shape = SHAPES["g2-standard-8"]
    values = (ROOT / "helm/seedrl/values-gke.yaml").read_text()
    assert f"({shape.allocatable_millicpu}m CPU and {shape.allocatable_mib}Mi allocatable)" in values
