"""The tests of each of `tests.conftest.SERIAL_GROUPS` run on one pytest-xdist worker, one after another.

`make test` relies on it: two learning runs at once on a 2-core machine would each get half of it. This
runs the real pytest-xdist (two workers, `--dist loadgroup`, as the Makefile does) over a folder laid out
like the suite, with the suite's own grouping hook, and reads which worker ran each test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import SERIAL_GROUPS, serial_group

# A test that records the worker it ran on, and waits long enough for the other worker to be free.
RECORDING_TEST = """
import json, os, time

def test_{name}():
    time.sleep(0.2)
    with open(os.environ["WORKERS_FILE"], "a") as out:
        out.write(json.dumps([__name__, os.environ["PYTEST_XDIST_WORKER"]]) + "\\n")
"""
# The suite's grouping hook, as it is (loaded by path: this folder's own `tests` package shadows the suite's).
CONFTEST = """
import importlib.util

spec = importlib.util.spec_from_file_location("suite_conftest", {path!r})
suite = importlib.util.module_from_spec(spec)
spec.loader.exec_module(suite)
pytest_itemcollected = suite.pytest_itemcollected
"""


def module_path(prefix: str) -> str:
    """A test module's path that starts with `prefix` (a module, a folder or the start of a file name)."""
    return prefix if prefix.endswith(".py") else f"{prefix}test_a.py" if prefix.endswith("/") else f"{prefix}_a.py"


def test_serial_group_is_found_from_the_test_path():
    assert serial_group("tests/integration/test_train_replay.py::test_x[sac]") == "training"
    assert serial_group("tests/chaos/test_chaos.py::test_x") == "training"
    assert serial_group("tests/kubernetes/test_leader.py::test_x") == "kubernetes"
    assert serial_group("tests/integration/test_controller_api.py::test_x") is None
    assert serial_group("tests/unit/test_train_config.py::test_x") is None


def test_each_groups_tests_run_on_one_worker_and_the_rest_on_both(tmp_path):
    root = tmp_path / "suite"
    paths = [module_path(prefix) for prefixes in SERIAL_GROUPS.values() for prefix in prefixes]
    paths += [f"tests/unit/test_free_{i}.py" for i in range(8)]
    for path in paths:
        module = root / path
        module.parent.mkdir(parents=True, exist_ok=True)
        for folder in [module.parent, *module.parent.parents]:
            if folder == root:
                break
            (folder / "__init__.py").touch()
        module.write_text(RECORDING_TEST.format(name=module.stem))
    (root / "tests" / "conftest.py").write_text(CONFTEST.format(path=str(Path(__file__).parents[1] / "conftest.py")))
    (root / "pytest.ini").write_text("[pytest]\n")
    workers_file = tmp_path / "workers.jsonl"
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST")}  # not this run's worker
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "2", "--dist", "loadgroup", "-q", "tests"],
        cwd=root, env={**env, "WORKERS_FILE": str(workers_file)}, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    ran = [json.loads(line) for line in workers_file.read_text().splitlines()]
    assert len(ran) == len(paths)
    by_group: dict[str | None, set[str]] = {}
    for module, worker in ran:
        by_group.setdefault(serial_group(module.replace(".", "/") + ".py"), set()).add(worker)
    for group in SERIAL_GROUPS:
        assert len(by_group[group]) == 1, (group, by_group)
    assert by_group[None] == {"gw0", "gw1"}  # the ungrouped tests are shared out

