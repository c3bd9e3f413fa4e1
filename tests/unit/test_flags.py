"""CLI flags come from the pydantic models; models keep every default."""

import argparse

import pytest
from pydantic import ValidationError

from seedrl.common import flags
from seedrl.launch.config import TrainConfig


def parse(argv):
    parser = argparse.ArgumentParser()
    flags.add_model_flags(parser, TrainConfig)
    return TrainConfig.model_validate(flags.model_values(parser.parse_args(argv), TrainConfig))


def test_flags_map_onto_nested_fields_and_defaults_stay_in_the_model():
    config = parse(["--env", "gym:Acrobot-v1", "--actors", "3", "--vtrace.learning-rate", "0.01",
                    "--vtrace.hidden-sizes", "32", "16", "--no-vtrace.lr-decay", "--stop-at-return", "-100"])
    assert config.env == "gym:Acrobot-v1" and config.actors == 3
    assert config.vtrace.learning_rate == 0.01 and config.vtrace.hidden_sizes == (32, 16)
    assert config.vtrace.lr_decay is False and config.stop_at_return == -100
    assert config.vtrace.discount == TrainConfig().vtrace.discount


def test_invalid_values_are_refused_with_the_field_named():
    with pytest.raises(ValidationError, match="actors"):
        parse(["--actors", "0"])
    with pytest.raises(ValidationError, match="hidden_sizes"):
        parse(["--vtrace.hidden-sizes", "0"])


def test_learner_config_is_the_learner_part_of_a_train_config():
    config = parse(["--total-frames", "1234", "--vtrace.batch-size", "4"])
    learner = config.learner_config()
    assert learner.total_frames == 1234 and learner.vtrace.batch_size == 4
    assert not hasattr(learner, "actors")
