"""The learner's Checkpointer on a real agent, and the TensorFlow-free view of its directory."""

import os

import numpy as np
import pytest

from seedrl.common.checkpoint_files import checkpoint_files, latest_checkpoint, list_checkpoints
from seedrl.learner.agents.vtrace.agent import VTraceAgent
from seedrl.spec.vtrace import VTraceConfig
from seedrl.learner.checkpoints import Checkpointer
from seedrl.learner.episodes import EpisodeStats
from seedrl.spec.network import NetworkConfig
from tests.unit.test_tensors_and_specs import cartpole_spec

STEPS = (10, 20, 30, 40)


def weights_at(step: int, variable_index: int, shape) -> np.ndarray:
    """Distinct weights for every checkpoint and variable."""
    return np.full(shape, step + variable_index / 100, np.float32)


def counters_at(step: int) -> tuple[int, int]:
    return step * 100, step // 10


@pytest.fixture
def saved(tmp_path):
    """A Checkpointer (keep=3) that saved at steps 10..40, with weights and counters set per step."""
    agent = VTraceAgent(cartpole_spec(), VTraceConfig(), total_frames=1000, network=NetworkConfig(hidden_sizes=(8,)))
    variables = agent.checkpoint_items()["network"].trainable_variables
    stats = EpisodeStats()
    directory = tmp_path / "checkpoints"
    checkpointer = Checkpointer(directory, agent.checkpoint_items(), stats, max_to_keep=3)
    for step in STEPS:
        for index, variable in enumerate(variables):
            variable.assign(weights_at(step, index, variable.shape))
        stats.frames, episodes = counters_at(step)
        finished = np.ones(episodes - stats.episodes)
        stats.record(returns=finished, lengths=finished)
        checkpointer.save(step)
    return directory, checkpointer, stats, variables


def assert_weights_of(step: int, variables) -> None:
    for index, variable in enumerate(variables):
        np.testing.assert_array_equal(variable.numpy(), weights_at(step, index, variable.shape))


def test_the_newest_checkpoints_are_listed_with_their_counters_and_sizes(saved):
    directory, _, _, _ = saved
    infos = list_checkpoints(directory)
    assert [info.name for info in infos] == ["ckpt-20", "ckpt-30", "ckpt-40"]
    for info in infos:
        assert info.step == int(info.name.split("-")[1])
        assert (info.frames, info.episodes) == counters_at(info.step)
        files = [name for name in os.listdir(directory) if name.startswith(info.name + ".")]
        assert any(name.endswith(".index") for name in files) and f"{info.name}.json" in files
        assert info.size_bytes > 0
        assert info.size_bytes == sum((directory / name).stat().st_size for name in files)
    assert not [name for name in os.listdir(directory) if name.startswith("ckpt-10.")]  # sidecar rotated out too
    assert latest_checkpoint(directory) == directory / "ckpt-40"


def test_restore_of_a_named_checkpoint_restores_that_one_not_the_newest(saved):
    directory, checkpointer, stats, variables = saved
    restored = checkpointer.restore(directory / "ckpt-20")
    assert restored == str(directory / "ckpt-20") and checkpointer.last_step == 20
    assert (stats.frames, stats.episodes) == counters_at(20)
    assert_weights_of(20, variables)

    assert checkpointer.restore(None) == str(directory / "ckpt-40") and checkpointer.last_step == 40
    assert (stats.frames, stats.episodes) == counters_at(40)
    assert_weights_of(40, variables)


def test_restore_with_no_checkpoint_is_a_fresh_start(tmp_path):
    agent = VTraceAgent(cartpole_spec(), VTraceConfig(), total_frames=1000, network=NetworkConfig(hidden_sizes=(8,)))
    stats = EpisodeStats()
    checkpointer = Checkpointer(tmp_path / "empty", agent.checkpoint_items(), stats, max_to_keep=3)
    assert checkpointer.restore(None) is None
    assert (stats.frames, stats.episodes, checkpointer.last_step) == (0, 0, -1)


@pytest.mark.parametrize("name", ["../x", "ckpt-1/../../x", "ckpt-1/../ckpt-20", "/tmp/ckpt-20", "ckpt-20.index", ""])
def test_checkpoint_files_refuses_names_that_are_not_checkpoint_names(saved, name):
    directory, _, _, _ = saved
    # Give the escaping names something to find if they were followed.
    (directory.parent / "x.index").write_text("not a checkpoint")
    (directory / "ckpt-1").mkdir()
    assert checkpoint_files(directory, "ckpt-20")  # the real one is found
    assert checkpoint_files(directory, name) == []


@pytest.mark.parametrize("damage", ["truncated-data", "missing-data", "garbage-index"])
def test_a_damaged_newest_checkpoint_falls_back_to_the_one_before(saved, damage):
    """A checkpoint whose files were cut short (a write interrupted, a disk fault) is skipped, never fatal."""
    directory, checkpointer, stats, variables = saved
    (data,) = directory.glob("ckpt-40.data-*")
    if damage == "truncated-data":
        data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    elif damage == "missing-data":
        data.unlink()
    else:
        (directory / "ckpt-40.index").write_bytes(b"\x00not an index")
    for variable in variables:
        variable.assign(np.zeros(variable.shape, np.float32))
    assert checkpointer.restore(None) == str(directory / "ckpt-30") and checkpointer.last_step == 30
    assert (stats.frames, stats.episodes) == counters_at(30)
    assert_weights_of(30, variables)
    with pytest.raises(Exception):  # asked for by name, a damaged checkpoint is an error
        checkpointer.restore(directory / "ckpt-40")


def test_when_no_checkpoint_can_be_restored_the_learner_says_so(saved):
    directory, checkpointer, _, _ = saved
    for index in directory.glob("ckpt-*.index"):
        index.write_bytes(b"garbage")
    with pytest.raises(RuntimeError, match="no checkpoint .* can be restored"):
        checkpointer.restore(None)
