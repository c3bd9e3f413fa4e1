"""CLI flags come from the pydantic models; models keep every default."""

import argparse

import pytest
from pydantic import ValidationError

from seedrl.admission import admit
from seedrl.common import flags
from seedrl.controller.config import ControllerConfig
from seedrl.spec.actor import ActorConfig
from seedrl.spec.experiment import ExperimentSpec
from seedrl.spec.learner import LearnerConfig
from seedrl.launch.config import CLUSTER_ONLY_FIELDS, TrainConfig


def parse(argv):
    parser = argparse.ArgumentParser()
    flags.add_model_flags(parser, TrainConfig, exclude=CLUSTER_ONLY_FIELDS)
    return admit(TrainConfig, flags.model_values(parser.parse_args(argv), TrainConfig))  # as `seedrl train` does


def test_flags_map_onto_nested_fields_and_defaults_stay_in_the_model():
    config = parse(["--env", "gym:Acrobot-v1", "--actors", "3", "--vtrace.learning-rate", "0.01",
                    "--network.hidden-sizes", "32", "16", "--no-vtrace.lr-decay", "--stop-at-return", "-100"])
    assert config.env == "gym:Acrobot-v1" and config.actors == 3
    assert config.vtrace.learning_rate == 0.01 and config.network.hidden_sizes == (32, 16)
    assert config.vtrace.lr_decay is False and config.stop_at_return == -100
    assert config.vtrace.discount == TrainConfig().vtrace.discount


def test_invalid_values_are_refused_with_the_field_named():
    with pytest.raises(ValidationError, match="actors"):
        parse(["--actors", "-1"])
    with pytest.raises(ValidationError, match="hidden_sizes"):
        parse(["--network.hidden-sizes", "0"])


def test_a_union_flag_takes_each_of_its_kinds_and_refuses_others():
    """`--vtrace.batch-size` is a number or `auto`; admission is strict about JSON types, so the flag's text
    must become the number, not stay the string "4"."""
    assert parse(["--vtrace.batch-size", "4"]).vtrace.batch_size == 4
    assert parse(["--policy-gradient.batch-size", "auto"]).policy_gradient.batch_size == "auto"
    for refused in ("4.5", "0", "many"):
        with pytest.raises(ValidationError, match="batch_size"):
            parse(["--vtrace.batch-size", refused])


@pytest.mark.parametrize("model", [TrainConfig, LearnerConfig, ActorConfig, ControllerConfig])
def test_every_command_runs_on_its_defaults(model):
    """What `seedrl train`, `learner`, `actor` and `controller` admit when no flag is given: admission is strict
    about JSON types and judges defaults too, so a default must be what JSON would carry (a path as a string)."""
    assert admit(model, {}) == model()


def test_train_flags_are_the_experiment_spec_fields():
    config = parse(["--total-frames", "1234", "--vtrace.batch-size", "4", "--inference.max-wait-ms", "5",
                    "--checkpoint.every-s", "30", "--name", "run-a"])
    spec = config.spec()
    assert isinstance(spec, ExperimentSpec) and spec.name == "run-a"
    assert spec.total_frames == 1234 and spec.vtrace.batch_size == 4
    assert spec.inference.max_wait_ms == 5 and spec.checkpoint.every_s == 30
    assert not hasattr(spec, "stop_at_return")
    # Every spec field but the cluster-only ones is a train flag.
    parser = argparse.ArgumentParser()
    flags.add_model_flags(parser, TrainConfig, exclude=CLUSTER_ONLY_FIELDS)
    dests = {action.dest.split(".")[0] for action in parser._actions}
    assert set(ExperimentSpec.model_fields) - CLUSTER_ONLY_FIELDS <= dests
    assert "resources" not in dests
