"""The `seedrl` command: train, learner, actor, controller, export, eval, defaults, plot and the API client."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from seedrl.admission import admit
from seedrl.common import flags


HYPERPARAMETER_DEFAULTS = (
    "The agent's and the network's defaults shown here are the models'; a spec's env family and agent may "
    "change them (docs/agents.md): `seedrl defaults --env E --agent A` prints the values that will run."
)


def _configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _load(model: type[BaseModel], args: argparse.Namespace) -> Any:
    """The model from `--config FILE` (JSON) overlaid with the flags given."""
    base = json.loads(Path(args.config).read_text()) if getattr(args, "config", None) else {}
    try:
        return admit(model, flags.merge(base, flags.model_values(args, model)))
    except ValidationError as error:
        sys.exit(f"seedrl: invalid configuration:\n{error}")


def _learner(args: argparse.Namespace) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from seedrl.spec.learner import LearnerConfig
    from seedrl.learner.main import run_learner

    return run_learner(_load(LearnerConfig, args))


def _actor(args: argparse.Namespace) -> int:
    from seedrl.spec.actor import ActorConfig
    from seedrl.actor.loop import ActorRefused, run_actor
    from seedrl.common.defaults import ACTOR_REFUSED_EXIT_CODE

    try:
        run_actor(_load(ActorConfig, args))
    except ActorRefused as error:
        logging.getLogger("seedrl.actor").error("refused by the learner: %s", error)
        return ACTOR_REFUSED_EXIT_CODE
    return 0


def _train(args: argparse.Namespace) -> int:
    from seedrl.launch.config import TrainConfig
    from seedrl.launch.train import LocalRun

    summary = LocalRun(_load(TrainConfig, args)).run()
    print(json.dumps(summary, indent=2))
    return 0 if summary["stop_reason"] in ("solved", "total_frames", "max_seconds", "interrupted") else 1


def _controller(args: argparse.Namespace) -> int:
    from seedrl.controller.config import ControllerConfig
    from seedrl.controller.main import run_controller

    run_controller(_load(ControllerConfig, args))
    return 0


def _export(args: argparse.Namespace) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from seedrl.spec.learner import LearnerConfig
    from seedrl.learner.export import export_saved_model

    config = LearnerConfig.model_validate_json(Path(args.config).read_text())
    print(export_saved_model(config, Path(args.checkpoint), Path(args.out)))
    return 0


def _eval(args: argparse.Namespace) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from seedrl.spec.env import UnknownEnvError
    from seedrl.spec.env import EnvOptions
    from seedrl.learner.evaluate import EvaluationError, evaluate

    try:
        options = EnvOptions.model_validate_json(args.env_options) if args.env_options else None
        result = evaluate(
            Path(args.checkpoint), args.episodes, env=args.env, env_options=options, greedy=not args.sample,
            num_envs=args.envs, seed=args.seed, video=Path(args.video) if args.video else None,
        )
    except (EvaluationError, UnknownEnvError, ImportError, ValidationError) as error:
        sys.exit(f"seedrl eval: {error}")
    print(json.dumps(result.summary(), indent=2))
    return 0


def _defaults(args: argparse.Namespace) -> int:
    from seedrl.spec.experiment import ExperimentSpec
    from seedrl.spec.family_defaults import agent_section, flatten, origins

    given = {"name": "defaults", **{key: value for key, value in (("env", args.env), ("agent", args.agent)) if value}}
    try:
        spec = admit(ExperimentSpec, given)
    except ValidationError as error:
        sys.exit(f"seedrl defaults: invalid env or agent:\n{error}")
    section = agent_section(spec.agent)
    where = origins(spec.env, spec.agent)
    values = flatten(spec.model_dump(mode="json", include={section, "network"}))
    rows = [(path, value, where[path][0] if path in where and where[path][1] == value else "model default")
            for path, value in values]
    if args.json:
        print(json.dumps({path: {"value": value, "from": origin} for path, value, origin in rows}, indent=2))
        return 0
    print(f"# seedrl train --env {spec.env} --agent {spec.agent} runs with these (any flag overrides its line):")
    width = max(len(path) for path, _, _ in rows) + 2
    for path, value, origin in rows:
        flag = "--" + path.replace("_", "-")
        print(f"{flag:<{width + 2}} {json.dumps(value):<24} # {origin}")
    return 0


def _plot(args: argparse.Namespace) -> int:
    try:
        from seedrl.plots import PlotError
        from seedrl.plots.curves import plot_runs
        from seedrl.plots.runs import use_tensorflow_stub
    except ModuleNotFoundError as error:
        package = str(error.name).partition(".")[0]
        sys.exit(f"seedrl plot: {package} is not installed; install the plot extra: pip install 'seedrl[plot]'")
    logdirs = [Path(logdir) for logdir in args.logdirs]
    use_tensorflow_stub()
    try:
        plot_runs(logdirs, Path(args.output), args.title, (args.width, args.height), args.dpi)
    except PlotError as error:
        sys.exit(f"seedrl plot: {error}")
    print(args.output)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from seedrl.spec.actor import ActorConfig
    from seedrl.client.commands import add_commands
    from seedrl.controller.config import ControllerConfig
    from seedrl.launch.config import CLUSTER_ONLY_FIELDS, TrainConfig
    from seedrl.spec.learner import LearnerConfig

    parser = argparse.ArgumentParser(prog="seedrl", description="SEED RL: central batched inference, distributed actors.")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, model, run, text in (
        ("train", TrainConfig, _train, "Train locally: a learner and its actors as processes on this machine."),
        ("learner", LearnerConfig, _learner, "Run a learner: gRPC inference server, training, checkpoints."),
        ("actor", ActorConfig, _actor, "Run an actor: step environments and stream them to a learner."),
        ("controller", ControllerConfig, _controller, "Run the REST controller: experiments as local processes."),
    ):
        epilog = HYPERPARAMETER_DEFAULTS if name in ("train", "learner") else None  # the commands with agent flags
        sub = commands.add_parser(name, help=text, description=text, epilog=epilog)
        if name != "train":
            sub.add_argument("--config", help="JSON file with the configuration; flags override it.")
        flags.add_model_flags(sub, model, exclude=CLUSTER_ONLY_FIELDS if name == "train" else frozenset())
        sub.set_defaults(run=run)
    export = commands.add_parser("export", help="Export a checkpoint's policy as a TensorFlow SavedModel.")
    export.add_argument("--config", required=True, help="The learner's config (learner.json in its run folder).")
    export.add_argument("--checkpoint", required=True, help="Checkpoint path without suffix, e.g. RUN/checkpoints/ckpt-120.")
    export.add_argument("--out", required=True, help="Directory to create for the SavedModel.")
    export.set_defaults(run=_export)
    evaluation = commands.add_parser(
        "eval", help="Play episodes with a checkpoint's policy (no learner server) and print return statistics.",
        description="Play episodes with a checkpoint's policy in this process and print return statistics as JSON.",
    )
    evaluation.add_argument("--checkpoint", required=True, help="A run folder (its newest checkpoint) or RUN/checkpoints/ckpt-N.")
    evaluation.add_argument("--env", help="Environment (default: the run's); it must have the run's spaces.")
    evaluation.add_argument("--env-options", help='Env options as JSON, e.g. \'{"sticky_actions": true}\' (default: the run\'s).')
    evaluation.add_argument("--episodes", type=int, default=10, help="Episodes to play (default 10).")
    evaluation.add_argument("--envs", type=int, default=1, help="Environments stepped together (default 1).")
    evaluation.add_argument("--sample", action="store_true", help="Sample actions from the policy instead of the greedy ones.")
    evaluation.add_argument("--seed", type=int, default=0, help="Environment seed (default 0).")
    evaluation.add_argument("--video", help="Record the first episode to this .mp4 (one env, Gymnasium's RecordVideo).")
    evaluation.set_defaults(run=_eval)
    defaults = commands.add_parser(
        "defaults", help="Print the hyperparameters an env and agent run with, and where each comes from.",
        description="Print the agent's and the network's hyperparameters that `seedrl train --env E --agent A` "
        "runs with: the model's default, the agent's preset or the env family's default (docs/agents.md).",
    )
    defaults.add_argument("--env", help="Environment as family:id (default: the spec's, gym:CartPole-v1).")
    defaults.add_argument("--agent", help="Agent (default: the spec's, vtrace).")
    defaults.add_argument("--json", action="store_true", help="Print JSON: {field: {value, from}}.")
    defaults.set_defaults(run=_defaults)
    plot = commands.add_parser(
        "plot", help="Draw learning curves of runs: mean return vs env frames and vs wall time.",
        description="Draw learning curves of runs from their TensorBoard events: mean episode return vs env frames "
        "and vs wall time, a colour per run, evaluation returns dashed.",
    )
    plot.add_argument("logdirs", nargs="+", metavar="LOGDIR", help="Run folders (the --logdir of seedrl train).")
    plot.add_argument("-o", "--output", required=True, help="Image to write: .png, .svg or .pdf.")
    plot.add_argument("--title", help="Title above both plots.")
    plot.add_argument("--width", type=float, default=10.0, help="Width in inches (default 10).")
    plot.add_argument("--height", type=float, default=4.0, help="Height in inches (default 4).")
    plot.add_argument(
        "--dpi", type=float, default=100.0, help="Pixels per inch (default 100): a PNG is width*dpi x height*dpi pixels."
    )
    plot.set_defaults(run=_plot)
    add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    _configure_logging()
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
