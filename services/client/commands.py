"""`seedrl experiments ...` and `seedrl checkpoints ...`: the controller's REST API from the command line.

Results print as aligned tables (`--output table`) or as the API's JSON (`--output json`).
Errors print as `seedrl: <status> <title>: <detail>` on stderr and exit 1.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from seedrl.common.defaults import API_TOKEN_ENV

if TYPE_CHECKING:
    from seedrl.client.api import ApiClient

URL_ENV = "SEEDRL_URL"
DEFAULT_URL = "http://127.0.0.1:8080"

Action = Callable[["ApiClient", argparse.Namespace], None]


class SpecError(ValueError):
    """A spec file that cannot be read or parsed."""


# --- formatting ------------------------------------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """`rows` under `headers` in left-aligned columns two spaces apart."""
    lines = [list(headers), *(list(row) for row in rows)]
    widths = [max(len(line[column]) for line in lines) for column in range(len(headers))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in lines)


def age(timestamp: str | None, now: datetime | None = None) -> str:
    """How long ago an ISO 8601 `timestamp` was, in its largest unit: 42s, 5m, 3h, 2d; `-` if none."""
    if not timestamp:
        return "-"
    then = datetime.fromisoformat(timestamp)
    if then.tzinfo is None:
        then = then.replace(tzinfo=timezone.utc)
    seconds = max(0, int(((now or datetime.now(timezone.utc)) - then).total_seconds()))
    for unit, length in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= length:
            return f"{seconds // length}{unit}"
    return f"{seconds}s"


def size(count: int) -> str:
    """A byte count in binary units: 512B, 1.5KiB, 20.0MiB."""
    if count < 1024:
        return f"{count}B"
    value = count / 1024
    for unit in ("KiB", "MiB"):
        if value < 1024:
            return f"{value:.1f}{unit}"
        value /= 1024
    return f"{value:.1f}GiB"


def number(value: float | None, digits: int = 1) -> str:
    """`value` with `digits` decimals, or `-` if it is unknown."""
    return "-" if value is None else f"{value:.{digits}f}"


def experiments_table(experiments: Iterable[dict[str, Any]], now: datetime | None = None) -> str:
    """One row per experiment: NAME PHASE ACTORS (ready/desired) FRAMES FPS RETURN AGE."""

    def row(experiment: dict[str, Any]) -> tuple[str, ...]:
        status = experiment["status"]
        return (experiment["name"], status["phase"], f"{status['ready_actors']}/{status['desired_actors']}",
                str(status["frames"]), number(status["fps"], 0), number(status["mean_return_100"]),
                age(experiment["created_at"], now))

    return table(("NAME", "PHASE", "ACTORS", "FRAMES", "FPS", "RETURN", "AGE"), map(row, experiments))


def checkpoints_table(checkpoints: Iterable[dict[str, Any]]) -> str:
    """One row per checkpoint: NAME STEP FRAMES RETURN TIME SIZE."""
    return table(
        ("NAME", "STEP", "FRAMES", "RETURN", "TIME", "SIZE"),
        ((c["name"], str(c["step"]), "-" if c["frames"] is None else str(c["frames"]), number(c["mean_return_100"]),
          datetime.fromisoformat(c["time"]).strftime("%Y-%m-%d %H:%M:%S"), size(c["size_bytes"]))
         for c in checkpoints),
    )


def experiment_details(experiment: dict[str, Any], now: datetime | None = None) -> str:
    """An experiment's key spec and status fields, then its conditions."""
    spec, status = experiment["spec"], experiment["status"]
    fields = (
        ("Name", experiment["name"]),
        ("Phase", status["phase"]),
        ("Message", status["message"] or "-"),
        ("Env", spec["env"]),
        ("Actors", f"{status['ready_actors']} ready of {status['desired_actors']} desired, "
                   f"{spec['envs_per_actor']} envs each, {status['connected_streams']} streams connected"),
        ("Frames", f"{status['frames']} of {spec['total_frames']}"),
        ("FPS", number(status["fps"], 0)),
        ("Return", f"{number(status['mean_return_100'])} (mean of the last 100 episodes; "
                   f"{status['episodes']} episodes)"),
        ("Learner steps", str(status["learner_steps"])),
        ("Checkpoint", status["latest_checkpoint"] or "-"),
        ("Restarts", f"learner {status['learner_restarts']}, actors {status['actor_restarts']}"),
        ("Created", f"{experiment['created_at']} ({age(experiment['created_at'], now)} ago)"),
        ("Started", status["started_at"] or "-"),
        ("Finished", status["finished_at"] or "-"),
    )
    width = max(len(label) for label, _ in fields) + 2
    lines = [f"{label + ':':<{width}}{value}" for label, value in fields]
    conditions = status["conditions"]
    if not conditions:
        return "\n".join([*lines, f"{'Conditions:':<{width}}none"])
    rows = ((c["type"], c["status"], c["reason"] or "-", age(c["last_transition_time"], now), c["message"])
            for c in conditions)
    indented = ("  " + line for line in table(("TYPE", "STATUS", "REASON", "AGE", "MESSAGE"), rows).splitlines())
    return "\n".join([*lines, "Conditions:", *indented])


# --- actions ---------------------------------------------------------------------------------------------------------


def _print(args: argparse.Namespace, data: dict[str, Any], as_table: Callable[[dict[str, Any]], str]) -> None:
    print(json.dumps(data, indent=2) if args.output == "json" else as_table(data))


def _show_experiment(args: argparse.Namespace, experiment: dict[str, Any]) -> None:
    _print(args, experiment, experiment_details)


def read_spec(source: str) -> dict[str, Any]:
    """The spec in file `source` (`-`: stdin), YAML or JSON (JSON being YAML), as a mapping."""
    import yaml

    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as error:
        raise SpecError(f"cannot read the spec {source}: {error.strerror or error}") from None
    shown = "stdin" if source == "-" else source
    try:
        spec = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise SpecError(f"the spec in {shown} is not valid YAML or JSON: {error}") from None
    if not isinstance(spec, dict):
        raise SpecError(f"the spec in {shown} must be a mapping of ExperimentSpec fields, not {type(spec).__name__}")
    return spec


def _create(api: "ApiClient", args: argparse.Namespace) -> None:
    _show_experiment(args, api.create(read_spec(args.file), args.start))


def _list(api: "ApiClient", args: argparse.Namespace) -> None:
    page = api.list(args.phase, args.limit, args.offset)
    _print(args, page, lambda data: experiments_table(data["items"]))
    shown = len(page["items"])
    if args.output == "table" and page["offset"] + shown < page["total"]:
        print(f"({shown} of {page['total']} experiments from offset {page['offset']}; "
              f"--offset {page['offset'] + shown} for more)", file=sys.stderr)


def _delete(api: "ApiClient", args: argparse.Namespace) -> None:
    api.delete(args.name, args.force, args.delete_checkpoints)
    if args.output == "table":
        print(f"deleted experiment {args.name}")


def _download(api: "ApiClient", args: argparse.Namespace) -> None:
    written = api.download_checkpoint(args.name, args.checkpoint, args.out)
    if args.output == "table":
        print(f"wrote {args.name}/{args.checkpoint} to {args.out} ({size(written)})")


def _experiment(call: Callable[["ApiClient", argparse.Namespace], dict[str, Any]]) -> Action:
    """An action printing the experiment that `call` answers (the lifecycle commands answer the experiment)."""

    def action(api: "ApiClient", args: argparse.Namespace) -> None:
        _show_experiment(args, call(api, args))

    return action


def _list_checkpoints(api: "ApiClient", args: argparse.Namespace) -> None:
    _print(args, api.checkpoints(args.name), lambda data: checkpoints_table(data["items"]))


def _runner(action: Action) -> Callable[[argparse.Namespace], int]:
    """`args.run` for an action: call it with a client of `--url`; a failure prints to stderr and exits 1."""

    def run(args: argparse.Namespace) -> int:
        from seedrl.client.api import ApiClient, ApiError, ClientError

        logging.getLogger("httpx").setLevel(logging.WARNING)  # no log line per request
        try:
            with ApiClient(args.url or os.environ.get(URL_ENV) or DEFAULT_URL,
                           args.token or os.environ.get(API_TOKEN_ENV) or None) as api:
                action(api, args)
        except (ClientError, SpecError) as error:
            print(f"seedrl: {error}", file=sys.stderr)
            for field in error.errors if isinstance(error, ApiError) else ():
                print(f"  {field.get('field', '?')}: {field.get('reason', '')}", file=sys.stderr)
            return 1
        return 0

    return run


# --- parsers ---------------------------------------------------------------------------------------------------------


def _common() -> argparse.ArgumentParser:
    """The options every client command takes: where the controller is, the token, the output format."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", help=f"The controller's base URL (default: ${URL_ENV}, else {DEFAULT_URL}).")
    common.add_argument("--token", help=f"API bearer token (default: ${API_TOKEN_ENV}).")
    common.add_argument("--output", choices=("table", "json"), default="table",
                        help="Print a table (default) or the API's JSON.")
    return common


def add_commands(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Register `experiments` and `checkpoints`, each with its subcommands, on `seedrl`'s subparsers."""
    common = _common()

    def command(group: "argparse._SubParsersAction[argparse.ArgumentParser]", name: str, action: Action, text: str,
                named: bool = True) -> argparse.ArgumentParser:
        parser = group.add_parser(name, parents=[common], help=text, description=text)
        if named:
            parser.add_argument("name", metavar="NAME", help="Experiment name.")
        parser.set_defaults(run=_runner(action))
        return parser

    text = "Manage experiments on a controller through its REST API."
    experiments = subparsers.add_parser("experiments", help=text, description=text)
    group = experiments.add_subparsers(dest="action", required=True, metavar="ACTION")

    create = command(group, "create", _create, "Create an experiment from a spec file.", named=False)
    create.add_argument("-f", "--file", required=True, metavar="SPEC",
                        help="ExperimentSpec as YAML or JSON; - reads stdin.")
    create.add_argument("--start", action="store_true", help="Start it right away.")

    listing = command(group, "list", _list, "List experiments, oldest first.", named=False)
    listing.add_argument("--phase", help="Only experiments in this phase (Pending, Running, Stopping, Stopped, ...).")
    listing.add_argument("--limit", type=int, default=50, help="At most this many (default: 50).")
    listing.add_argument("--offset", type=int, default=0, help="Skip this many (default: 0).")

    command(group, "get", _experiment(lambda api, args: api.get(args.name)), "Show an experiment.")
    command(group, "start", _experiment(lambda api, args: api.start(args.name)), "Start a created experiment.")
    command(group, "stop", _experiment(lambda api, args: api.stop(args.name)),
            "Stop an experiment gracefully (its learner writes a final checkpoint).")
    resume = command(group, "resume", _experiment(lambda api, args: api.resume(args.name, args.checkpoint)),
                     "Resume a stopped, failed or finished experiment from a checkpoint.")
    resume.add_argument("--checkpoint",
                        help="ckpt-N of this experiment or other-experiment/ckpt-N (default: the newest).")
    scale = command(group, "scale", _experiment(lambda api, args: api.scale(args.name, args.actors)),
                    "Set an experiment's number of actors.")
    scale.add_argument("--actors", type=int, required=True, help="Actor processes to run.")
    delete = command(group, "delete", _delete, "Delete an experiment.")
    delete.add_argument("--force", action="store_true", help="Stop it first if it runs.")
    delete.add_argument("--delete-checkpoints", action="store_true",
                        help="Also delete its checkpoints, logs and summaries.")

    text = "List and download an experiment's checkpoints."
    checkpoints = subparsers.add_parser("checkpoints", help=text, description=text)
    group = checkpoints.add_subparsers(dest="action", required=True, metavar="ACTION")
    command(group, "list", _list_checkpoints, "List an experiment's checkpoints.")
    download = command(group, "download", _download, "Download a checkpoint as .tar.gz.")
    download.add_argument("checkpoint", metavar="CKPT", help="Checkpoint name, ckpt-N.")
    download.add_argument("-o", "--out", required=True, metavar="FILE", help="File to write the .tar.gz to.")
