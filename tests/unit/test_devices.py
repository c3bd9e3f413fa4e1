"""The device plan, training on several replicas, and inference on devices of its own.

This machine has no GPU: the logical CPU devices of tests/conftest.py stand in for the GPUs of
a learner node (same code paths, MirroredStrategy over them; no NCCL).
"""

import threading

import numpy as np
import pytest
import tensorflow as tf

from seedrl.common import metrics as m
from seedrl.learner.agents.base import StepInputs, TrainingBatch
from seedrl.learner.agents.vtrace.agent import VTraceAgent
from seedrl.spec.vtrace import VTraceConfig
from seedrl.learner.devices.acting import InferenceCopies
from seedrl.spec.devices import DevicesSpec
from seedrl.learner.devices.plan import plan_devices
from seedrl.learner.devices.precision import mixed_precision
from seedrl.learner.devices.strategy import learner_devices
from seedrl.spec.network import NetworkConfig
from tests.unit.test_tensors_and_specs import cartpole_spec

GPUS = [f"/device:GPU:{i}" for i in range(8)]
T, B = 5, 8


@pytest.mark.parametrize(("available", "spec", "inference", "training"), [
    (1, DevicesSpec(), (), (0,)),
    (2, DevicesSpec(), (1,), (0,)),
    (4, DevicesSpec(), (3,), (0, 1, 2)),
    (8, DevicesSpec(), (6, 7), (0, 1, 2, 3, 4, 5)),
    (4, DevicesSpec(inference=0), (), (0, 1, 2, 3)),
    (4, DevicesSpec(inference=2), (2, 3), (0, 1)),
    (4, DevicesSpec(training=2), (2,), (0, 1)),
    (4, DevicesSpec(inference=1, training=1), (1,), (0,)),
])
def test_the_plan_splits_accelerators_as_the_spec_asks(available, spec, inference, training):
    plan = plan_devices(spec, "GPU", GPUS[:available])
    assert plan.inference == tuple(GPUS[i] for i in inference)
    assert plan.training == tuple(GPUS[i] for i in training)
    assert plan.shared == (not inference)
    assert plan.inference_devices == (plan.inference or plan.training[:1])


def test_a_plan_needing_more_devices_than_there_are_names_them():
    with pytest.raises(ValueError, match=r"devices.inference \(2\) \+ devices.training \(3\) need 5 GPU devices; TensorFlow sees 4"):
        plan_devices(DevicesSpec(inference=2, training=3), "GPU", GPUS[:4])
    with pytest.raises(ValueError, match="sees no GPU device"):
        plan_devices(DevicesSpec(accelerator="gpu"), "GPU", [])


def test_the_cpu_is_split_only_when_the_spec_asks():
    cpus = [device.name for device in tf.config.list_logical_devices("CPU")]
    assert len(cpus) == 3
    assert plan_devices(DevicesSpec(), "CPU", cpus).training == (cpus[0],)
    plan, strategy = learner_devices(DevicesSpec(accelerator="cpu", inference=1, training=2))
    assert (plan.kind, plan.inference, plan.training) == ("CPU", (cpus[2],), (cpus[0], cpus[1]))
    assert isinstance(strategy, tf.distribute.MirroredStrategy) and strategy.num_replicas_in_sync == 2
    plan, strategy = learner_devices(DevicesSpec())
    assert plan.shared and strategy is tf.distribute.get_strategy()
    assert "training (1 replicas)" in plan.describe()


def vtrace(lstm_size: int = 0, **kwargs) -> VTraceAgent:
    network = NetworkConfig(hidden_sizes=(32,), lstm_size=lstm_size)
    return VTraceAgent(cartpole_spec(), VTraceConfig(batch_size=B, unroll_length=T), total_frames=10**6,
                       network=network, **kwargs)


def random_batch(agent: VTraceAgent, seed: int = 0) -> TrainingBatch:
    """B unrolls of T+1 CartPole-like steps, time-major, with some episode ends."""
    rng = np.random.default_rng(seed)
    steps = {
        "observation": rng.normal(size=(T + 1, B, 4)).astype(np.float32),
        "reward": np.ones((T + 1, B), np.float32),
        "terminated": rng.random((T + 1, B)) < 0.1,
        "truncated": np.zeros((T + 1, B), bool),
        "truncation_value": np.zeros((T + 1, B), np.float32),
        "prev_action": rng.integers(0, 2, (T + 1, B)).astype(np.int32),
        "action": rng.integers(0, 2, (T + 1, B)).astype(np.int32),
        "behaviour_logits": rng.normal(size=(T + 1, B, 2)).astype(np.float32),
    }
    state = tuple(rng.normal(size=(B, spec.shape[0])).astype(np.float32) for spec in agent.state_specs)
    return TrainingBatch(steps, state)


def copy_weights(source: VTraceAgent, target: VTraceAgent) -> None:
    for target_variable, source_variable in zip(target.acting_variables(), source.acting_variables(), strict=True):
        target_variable.assign(source_variable.numpy())


def test_batches_of_any_size_train_on_one_trace():
    """`batch_size: auto` follows the actors that connect and die: a new batch size must not stop training for
    a trace (seconds on a loaded CPU, long enough to stall a run whose actor was just killed)."""
    agent = vtrace(lstm_size=8)
    batch = random_batch(agent)
    for unrolls in (B, B // 2, B + 3, 1):
        part = TrainingBatch({name: value[:, :unrolls] for name, value in batch.steps.items()},
                             tuple(state[:unrolls] for state in batch.initial_state))
        assert all(np.isfinite(value) for value in agent.train(part, frames=0).values())
    assert agent._train_step.traces == 1


@pytest.mark.slow
@pytest.mark.parametrize("lstm_size", [0, 8], ids=["mlp", "lstm"])
def test_two_replicas_take_the_step_one_device_takes(two_replicas, lstm_size):
    single = vtrace(lstm_size)
    with two_replicas.scope():
        replicated = vtrace(lstm_size)
    copy_weights(single, replicated)
    batch = random_batch(single)
    for _ in range(2):  # the second step also checks the optimizer's state (Adam moments)
        expected, actual = single.train(batch, 0), replicated.train(batch, 0)
        for name in ("loss/total", "loss/policy", "loss/baseline", "loss/entropy", "gradient_norm", "mean_rho"):
            np.testing.assert_allclose(actual[name], expected[name], rtol=1e-4, err_msg=name)
    assert replicated.steps == single.steps == 2
    for a, b in zip(single.acting_variables(), replicated.acting_variables(), strict=True):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-4, atol=1e-6)


def test_a_batch_that_does_not_split_evenly_is_refused(two_replicas):
    with two_replicas.scope():
        agent = vtrace()
    batch = random_batch(agent)
    odd = TrainingBatch({name: value[:, :B - 1] for name, value in batch.steps.items()}, ())
    with pytest.raises(ValueError, match="7 unrolls does not split evenly over 2 training replicas"):
        agent.train(odd, 0)


@pytest.mark.slow
def test_an_xla_compiled_step_equals_the_plain_one():
    plain, compiled = vtrace(), vtrace(jit_compile=True)
    copy_weights(plain, compiled)
    batch = random_batch(plain)
    expected, actual = plain.train(batch, 0), compiled.train(batch, 0)
    np.testing.assert_allclose(actual["loss/total"], expected["loss/total"], rtol=1e-4)
    for a, b in zip(plain.acting_variables(), compiled.acting_variables()):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-4, atol=1e-6)


@pytest.mark.slow
def test_bfloat16_encoders_act_and_train_in_float32_outputs():
    full = vtrace(8)
    with mixed_precision("bfloat16"):
        mixed = vtrace(8)
    assert mixed._network.encoder.core.compute_dtype == "bfloat16"
    assert {tf.as_dtype(v.dtype) for v in mixed._network.trainable_variables} == {tf.float32}
    copy_weights(full, mixed)
    inputs = step_inputs(np.random.default_rng(1).normal(size=(6, 4)).astype(np.float32))
    state = tuple(np.zeros((6, 8), np.float32) for _ in range(2))
    expected, actual = full.act(inputs, state), mixed.act(inputs, state)
    assert actual.extras["behaviour_logits"].dtype == np.float32 and actual.state[0].dtype == np.float32
    np.testing.assert_allclose(actual.extras["behaviour_logits"], expected.extras["behaviour_logits"], atol=0.05)
    metrics = mixed.train(random_batch(mixed), 0)
    assert np.isfinite(metrics["loss/total"])
    assert abs(metrics["loss/total"] - full.train(random_batch(full), 0)["loss/total"]) < 0.1


def step_inputs(observation: np.ndarray) -> StepInputs:
    n = len(observation)
    return StepInputs(observation, np.zeros(n, bool), np.zeros(n, np.int32), np.zeros(n, np.float32),
                      np.arange(n, dtype=np.int32))


@pytest.mark.slow
def test_inference_copies_act_as_the_trained_agent_and_follow_its_training(two_replicas):
    with two_replicas.scope():
        trained = vtrace()
    copies = InferenceCopies(trained, vtrace, ("/cpu:0",), refresh_steps=2, metrics=m.Metrics("t", "learner"))
    inputs = step_inputs(np.random.default_rng(2).normal(size=(16, 4)).astype(np.float32))
    out, version = copies.act(inputs, ())
    assert version == 0
    np.testing.assert_allclose(out.extras["behaviour_logits"], trained.act(inputs, ()).extras["behaviour_logits"], rtol=1e-5)

    # Inference keeps serving valid actions while training runs and refreshes the copy.
    batch, errors, versions = random_batch(trained), [], []
    stop = threading.Event()

    def serve():
        try:
            while not stop.is_set():
                out, version = copies.act(inputs, ())
                assert set(out.action.tolist()) <= {0, 1} and np.isfinite(out.extras["behaviour_logits"]).all()
                versions.append(version)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    server = threading.Thread(target=serve)
    server.start()
    try:
        for _ in range(5):
            trained.train(batch, 0)
            copies.refresh(trained.steps)
    finally:
        stop.set()
        server.join()
    assert not errors
    assert versions == sorted(versions) and set(versions) <= {0, 2, 4}
    assert copies.versions == [4]  # refreshed every 2 steps: step 5 is not copied yet
    out, version = copies.act(inputs, ())
    stale = out.extras["behaviour_logits"]
    assert not np.allclose(stale, trained.act(inputs, ()).extras["behaviour_logits"], atol=1e-7)
    copies.refresh(trained.steps + 1)
    fresh, version = copies.act(inputs, ())
    assert version == 6
    np.testing.assert_allclose(fresh.extras["behaviour_logits"], trained.act(inputs, ()).extras["behaviour_logits"], rtol=1e-5)


def test_the_plan_is_exported_one_series_per_device():
    from seedrl.learner.main import export_device_plan

    metrics = m.Metrics("t", "learner")
    export_device_plan(plan_devices(DevicesSpec(), "GPU", GPUS[:4]), metrics)
    value = lambda use, device: metrics.registry.get_sample_value(  # noqa: E731
        "seedrl_learner_devices", {"experiment": "t", "role": "learner", "use": use, "device": device})
    assert value("inference", GPUS[3]) == 1
    assert [value("training", GPUS[i]) for i in range(3)] == [1, 1, 1]
    assert value("shared", GPUS[0]) is None


def test_a_batch_size_that_does_not_divide_over_the_replicas_is_refused_at_start():
    from seedrl.spec.learner import LearnerConfig
    from seedrl.learner.main import check_batch_split

    check_batch_split(LearnerConfig(agent="ppo"), 32, 2)
    with pytest.raises(ValueError, match=r"policy_gradient.batch_size \(30\) must be a multiple of the 4 training devices"):
        check_batch_split(LearnerConfig(agent="ppo"), 30, 4)



def test_xla_with_several_gpu_replicas_is_refused_and_tpu_steps_are_always_compiled():
    with pytest.raises(ValueError, match="devices.jit_compile needs one training device, not 3"):
        plan_devices(DevicesSpec(jit_compile=True), "GPU", GPUS[:4])
    assert plan_devices(DevicesSpec(jit_compile=True, inference=1, training=1), "GPU", GPUS[:4]).training == (GPUS[0],)
    assert len(plan_devices(DevicesSpec(jit_compile=True), "TPU", GPUS[:8]).training) == 6
