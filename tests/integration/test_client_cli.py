"""`seedrl experiments ...` and `seedrl checkpoints ...` as subprocesses against a real controller.

The controller runs no experiment at once (`--max-active-experiments 0`): these tests
create, list, scale and delete experiments but never train (starting is tested elsewhere).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from seedrl.common.ports import free_port
from tests.integration.controller import Controller, start_controller

pytestmark = pytest.mark.integration

TOKEN = "client-cli-test-token"
Cli = Callable[..., subprocess.CompletedProcess]


def seedrl(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run `seedrl ARGS` with no SEEDRL_URL / SEEDRL_API_TOKEN from this environment, plus `env`."""
    base = {k: v for k, v in os.environ.items() if k not in ("SEEDRL_URL", "SEEDRL_API_TOKEN")}
    return subprocess.run([sys.executable, "-m", "seedrl.cli", *args], input=input, capture_output=True, text=True,
                          env={**base, **(env or {})}, timeout=60)


def fails(result: subprocess.CompletedProcess, *texts: str) -> None:
    """The command exited 1 with `texts` on stderr, and printed no traceback and nothing on stdout."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert result.stderr.startswith("seedrl: "), result.stderr
    for text in texts:
        assert text in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def ok(result: subprocess.CompletedProcess) -> str:
    """The command's stdout, once it exited 0."""
    assert result.returncode == 0, (result.stdout, result.stderr)
    return result.stdout


@pytest.fixture(scope="module")
def controller(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Controller]:
    running = start_controller(tmp_path_factory.mktemp("client-cli"), TOKEN, "--max-active-experiments", "0")
    yield running
    running.stop()


@pytest.fixture
def cli(controller: Controller) -> Cli:
    """`seedrl ARGS --url URL [--token TOKEN]` against the module's controller."""

    def run(*args: str, token: str | None = TOKEN, input: str | None = None) -> subprocess.CompletedProcess:
        return seedrl(*args, "--url", controller.url, *(("--token", token) if token else ()), input=input)

    return run


def create(cli: Cli, name: str, **fields: Any) -> dict[str, Any]:
    """Create experiment `name` from JSON on stdin; its JSON."""
    spec = {"name": name, "actors": 1, "envs_per_actor": 2, **fields}
    return json.loads(ok(cli("experiments", "create", "-f", "-", "--output", "json", input=json.dumps(spec))))


def get(cli: Cli, name: str) -> dict[str, Any]:
    return json.loads(ok(cli("experiments", "get", name, "--output", "json")))


def listed(cli: Cli, *args: str) -> dict[str, Any]:
    return json.loads(ok(cli("experiments", "list", "--output", "json", *args)))


def test_create_from_a_yaml_file(cli: Cli, tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("name: from-yaml\nenv: gym:CartPole-v1\nactors: 3\nenvs_per_actor: 4\ntotal_frames: 5000\n")
    shown = ok(cli("experiments", "create", "-f", str(spec)))
    assert "from-yaml" in shown and "Pending" in shown
    experiment = get(cli, "from-yaml")
    assert (experiment["spec"]["actors"], experiment["spec"]["envs_per_actor"]) == (3, 4)
    assert experiment["spec"]["total_frames"] == 5000
    assert experiment["status"]["phase"] == "Pending"


def test_create_from_json_on_stdin(cli: Cli) -> None:
    experiment = create(cli, "from-stdin", total_frames=7000)
    assert experiment["name"] == "from-stdin"
    assert experiment["spec"]["total_frames"] == 7000
    assert get(cli, "from-stdin")["spec"] == experiment["spec"]


def test_create_an_existing_name_conflicts(cli: Cli) -> None:
    create(cli, "twice")
    fails(cli("experiments", "create", "-f", "-", input='{"name": "twice"}'), "409 Conflict", "exists already")


@pytest.mark.parametrize("spec, field", [({"name": "negative", "actors": -1}, "actors"),
                                         ({"name": "Bad_Name"}, "name")])
def test_an_invalid_spec_names_the_field(cli: Cli, spec: dict[str, Any], field: str) -> None:
    fails(cli("experiments", "create", "-f", "-", input=json.dumps(spec)), "422 Unprocessable Entity", f"\n  {field}: ")
    assert spec["name"] not in {item["name"] for item in listed(cli, "--limit", "500")["items"]}


@pytest.mark.parametrize("text, error", [("name: [unclosed\n", "not valid YAML or JSON"),
                                         ("- a\n- b\n", "must be a mapping")])
def test_a_spec_that_is_no_mapping_is_refused_before_sending(cli: Cli, tmp_path: Path, text: str, error: str) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(text)
    fails(cli("experiments", "create", "-f", str(spec)), str(spec), error)


def test_a_missing_spec_file(cli: Cli, tmp_path: Path) -> None:
    fails(cli("experiments", "create", "-f", str(tmp_path / "nope.yaml")), "cannot read the spec", "nope.yaml")


def test_list_as_table_and_json(cli: Cli) -> None:
    create(cli, "listed")
    header, *rows = ok(cli("experiments", "list")).splitlines()
    assert header.split() == ["NAME", "PHASE", "ACTORS", "FRAMES", "FPS", "RETURN", "AGE"]
    row = next(row.split() for row in rows if row.split()[0] == "listed")
    assert row[1:4] == ["Pending", "0/1", "0"]
    page = listed(cli)
    assert page["total"] >= 1 and page["total"] == len(page["items"])
    assert "listed" in {item["name"] for item in page["items"]}


def test_list_pages(cli: Cli) -> None:
    create(cli, "paged-a")
    create(cli, "paged-b")
    page = listed(cli, "--limit", "1", "--offset", "1")
    assert (len(page["items"]), page["limit"], page["offset"]) == (1, 1, 1)
    assert page["total"] >= 2
    table = cli("experiments", "list", "--limit", "1")
    assert len(ok(table).splitlines()) == 2
    assert "--offset 1 for more" in table.stderr


def test_list_by_phase(cli: Cli) -> None:
    create(cli, "phased")
    pending = listed(cli, "--phase", "Pending")
    assert "phased" in {item["name"] for item in pending["items"]}
    assert {item["status"]["phase"] for item in pending["items"]} == {"Pending"}
    assert listed(cli, "--phase", "Running") == {"items": [], "total": 0, "limit": 50, "offset": 0}
    fails(cli("experiments", "list", "--phase", "Sleeping"), "422", "\n  query.phase: ")


def test_get_shows_key_fields_and_conditions(cli: Cli) -> None:
    create(cli, "shown", total_frames=9000)
    fields = dict(line.split(":", 1) for line in ok(cli("experiments", "get", "shown")).splitlines() if ":" in line)
    assert fields["Name"].strip() == "shown"
    assert fields["Phase"].strip() == "Pending"
    assert fields["Message"].strip() == "created; not started"
    assert fields["Frames"].strip() == "0 of 9000"
    assert fields["Conditions"].strip() == "none"


def test_scale_changes_the_spec(cli: Cli) -> None:
    create(cli, "scaled")
    scaled = json.loads(ok(cli("experiments", "scale", "scaled", "--actors", "4", "--output", "json")))
    assert scaled["spec"]["actors"] == 4
    experiment = get(cli, "scaled")
    assert (experiment["spec"]["actors"], experiment["status"]["desired_actors"]) == (4, 4)
    fails(cli("experiments", "scale", "scaled", "--actors", "5000"), "422", "\n  actors: ")
    assert get(cli, "scaled")["spec"]["actors"] == 4


def test_lifecycle_errors_of_a_never_started_experiment(cli: Cli) -> None:
    create(cli, "idle")
    fails(cli("experiments", "stop", "idle"), "409 Conflict", "experiment 'idle' is not running (Pending)")
    fails(cli("experiments", "start", "idle"), "409 Conflict", "--max-active-experiments 0")
    fails(cli("experiments", "resume", "idle", "--checkpoint", "ckpt-9"), "409 Conflict", "has never run; start it")
    assert get(cli, "idle")["status"]["phase"] == "Pending"


def test_checkpoints_of_a_new_experiment(cli: Cli, tmp_path: Path) -> None:
    create(cli, "fresh")
    assert ok(cli("checkpoints", "list", "fresh")).split() == ["NAME", "STEP", "FRAMES", "RETURN", "TIME", "SIZE"]
    assert json.loads(ok(cli("checkpoints", "list", "fresh", "--output", "json"))) == {"items": []}
    archive = tmp_path / "fresh.tar.gz"
    fails(cli("checkpoints", "download", "fresh", "ckpt-1", "-o", str(archive)),
          "404 Not Found", "no checkpoint 'ckpt-1'")
    assert list(tmp_path.iterdir()) == []
    fails(cli("checkpoints", "list", "nobody"), "404 Not Found", "experiment 'nobody' does not exist")


def test_checkpoints_on_disk_are_listed_downloaded_and_deleted(
    cli: Cli, controller: Controller, tmp_path: Path,
) -> None:
    create(cli, "saved")
    directory = controller.data_dir / "experiments" / "saved" / "checkpoints"
    directory.mkdir(parents=True)
    contents = {"ckpt-120.index": b"index", "ckpt-120.data-00000-of-00001": os.urandom(3000),
                "ckpt-120.json": json.dumps({"frames": 4800, "episodes": 12, "mean_return_100": 21.5,
                                             "time": 1_700_000_000.0}).encode()}
    for name, data in contents.items():
        (directory / name).write_bytes(data)

    [checkpoint] = json.loads(ok(cli("checkpoints", "list", "saved", "--output", "json")))["items"]
    assert (checkpoint["name"], checkpoint["frames"]) == ("ckpt-120", 4800)
    assert checkpoint["size_bytes"] == sum(map(len, contents.values()))
    _, row = ok(cli("checkpoints", "list", "saved")).splitlines()
    assert row.split() == ["ckpt-120", "120", "4800", "21.5", "2023-11-14", "22:13:20", "3.0KiB"]

    archive = tmp_path / "saved.tar.gz"
    assert ok(cli("checkpoints", "download", "saved", "ckpt-120", "-o", str(archive))).startswith(
        f"wrote saved/ckpt-120 to {archive}")
    with tarfile.open(archive) as files:
        assert {member.name: files.extractfile(member).read() for member in files.getmembers()} == {
            f"ckpt-120/{name}": data for name, data in contents.items()}

    ok(cli("experiments", "delete", "saved", "--delete-checkpoints"))
    assert not directory.parent.exists()


def test_delete_then_get_is_not_found(cli: Cli) -> None:
    create(cli, "doomed")
    assert ok(cli("experiments", "delete", "doomed")).strip() == "deleted experiment doomed"
    fails(cli("experiments", "get", "doomed"), "404 Not Found", "experiment 'doomed' does not exist")
    fails(cli("experiments", "delete", "doomed"), "404 Not Found")


def test_writes_need_the_token(cli: Cli) -> None:
    spec = '{"name": "unauthorized"}'
    fails(cli("experiments", "create", "-f", "-", token=None, input=spec), "401 Unauthorized", "needs an API token")
    fails(cli("experiments", "create", "-f", "-", token="not-the-token", input=spec), "403 Forbidden", "not valid")
    assert "unauthorized" not in {item["name"] for item in listed(cli, "--limit", "500")["items"]}
    assert ok(cli("experiments", "list", token=None)).startswith("NAME")  # reads need no token


def test_url_and_token_from_the_environment(controller: Controller) -> None:
    env = {"SEEDRL_URL": controller.url, "SEEDRL_API_TOKEN": TOKEN}
    ok(seedrl("experiments", "create", "-f", "-", input='{"name": "from-env"}', env=env))
    assert "from-env" in ok(seedrl("experiments", "list", env=env))


def test_an_unreachable_controller(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    fails(seedrl("experiments", "list", "--url", url), f"cannot reach the controller at {url}: ")
    fails(seedrl("checkpoints", "download", "x", "ckpt-1", "-o", str(tmp_path / "x.tgz"), "--url", url), "cannot reach")
    assert list(tmp_path.iterdir()) == []


def test_the_client_changes_things_on_a_controller_without_a_token(tmp_path: Path) -> None:
    """Such a controller takes changes as JSON only (cross-site defence); the client declares every change JSON."""
    open_controller = start_controller(tmp_path, None, "--max-active-experiments", "0")
    try:
        def run(*args: str, input: str | None = None) -> subprocess.CompletedProcess:
            return seedrl(*args, "--url", open_controller.url, input=input)

        ok(run("experiments", "create", "-f", "-", input=json.dumps({"name": "open", "actors": 1})))
        ok(run("experiments", "scale", "open", "--actors", "2"))
        fails(run("experiments", "start", "open"), "409 Conflict", "max-active-experiments")  # not 415
        fails(run("experiments", "stop", "open"), "409 Conflict", "not running")
        ok(run("experiments", "delete", "open"))
    finally:
        open_controller.stop()
