"""CI takes the README's path: `.ci/run` runs the README's test command and nothing else.

Everything the tests need is installed by that command itself (tests/setup_tools.py), so a person who
follows the README runs exactly what CI runs.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
SCAFFOLDING = {"set", "cd", "export"}  # shell options, the working folder, CI-only environment variables


def script_commands(script: str) -> list[str]:
    """The commands a bash script runs: no comments, no scaffolding, no leading VAR=value or `exec`."""
    found = []
    for line in script.splitlines():
        words = shlex.split(line, comments=True)
        while words and (ASSIGNMENT.match(words[0]) or words[0] == "exec"):
            words = words[1:]
        if words and words[0] not in SCAFFOLDING:
            found.append(" ".join(words))
    return found


def readme_commands() -> dict[str, str]:
    """The commands of the README's "Two commands" block, each with its comment."""
    section = (ROOT / "README.md").read_text().split("## Two commands", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    commands = {}
    for line in block.splitlines():
        command, _, comment = line.partition("#")
        commands[command.strip()] = comment.strip()
    return commands


def test_script_commands_ignore_scaffolding():
    script = "#!/usr/bin/env bash\nset -euo pipefail\ncd x  # here\nexport CI=1\nPYTEST_ADDOPTS=-x exec make test\n"
    assert script_commands(script) == ["make test"]
    assert script_commands("apt-get install -y prometheus\nmake test\n") == ["apt-get install -y prometheus",
                                                                              "make test"]


def test_ci_runs_the_command_the_readme_names_for_ci():
    ci = script_commands((ROOT / ".ci/run").read_text())
    assert len(ci) == 1, f".ci/run must run one command, the README's: {ci}"
    readme = readme_commands()
    assert ci[0] in readme, f".ci/run runs {ci[0]!r}; the README names {sorted(readme)}"
    assert "CI" in readme[ci[0]], f"the README does not say that {ci[0]!r} is what CI runs"


def test_every_make_command_in_the_readme_is_a_make_target():
    targets = set(re.findall(r"^([a-z][a-z-]*):", (ROOT / "Makefile").read_text(), flags=re.MULTILINE))
    named = {command.split()[1] for command in readme_commands() if command.startswith("make ")}
    assert {"test", "test-quick"} <= named
    assert named <= targets, named - targets
