"""The V-trace (IMPALA) agent: inference on the learner and one train step."""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from seedrl.common.spaces import DiscreteSpace, EnvSpec
from seedrl.learner.agents.base import ActOutput, Agent, FieldSpec, StepInputs, TrainingBatch
from seedrl.spec.vtrace import VTraceConfig
from seedrl.learner.agents.vtrace.diagnostics import off_policy_diagnostics
from seedrl.learner.agents.vtrace.losses import impala_loss, transition_rewards_and_discounts
from seedrl.learner.devices import replicas
from seedrl.learner.devices.precision import checkpointed, loss_scaled
from seedrl.learner.devices.replicated_step import ReplicatedStep
from seedrl.learner.networks.encoder import zero_step
from seedrl.learner.networks.policy_value import PolicyValueNetwork
from seedrl.spec.network import NetworkConfig
from seedrl.learner.graphs import SignatureFunction, graph_function


class VTraceAgent(Agent):
    """IMPALA: a policy-value network trained with V-trace off-policy correction."""

    name = "vtrace"

    def __init__(
        self, spec: EnvSpec, config: VTraceConfig, total_frames: int, network: NetworkConfig | None = None,
        jit_compile: bool = False,
    ):
        if not isinstance(spec.action_space, DiscreteSpace):
            raise ValueError(
                f"the vtrace agent needs a discrete action space; {spec.env_id} has {spec.action_space!r}"
            )
        self._config = config
        self._total_frames = total_frames
        self._num_actions = spec.action_space.n
        obs_shape, obs_dtype = spec.observation_shape, tf.as_dtype(spec.observation_dtype)
        self._network_config = network or NetworkConfig()
        self._network = PolicyValueNetwork(spec, self._network_config, self._num_actions)
        self._optimizer = loss_scaled(
            tf.keras.optimizers.Adam(learning_rate=config.learning_rate, epsilon=config.adam_epsilon)
        )

        obs_spec = tf.TensorSpec([None, *obs_shape], obs_dtype)
        self._obs_spec = obs_spec
        state_spec = tuple(tf.TensorSpec([None, *s.shape], tf.float32) for s in self.state_specs)
        action_spec = tf.TensorSpec([None], tf.int32)
        self._act_fn = SignatureFunction(
            self._act_graph,
            input_signature=[obs_spec, tf.TensorSpec([None], tf.bool), action_spec, tf.TensorSpec([None], tf.float32), state_spec],
        )
        self._train_step = ReplicatedStep(self._train_graph, jit_compile=jit_compile)
        # Create every variable now, so checkpoints restore before the first step.
        self._network.step(*zero_step(spec), self._network.initial_state(1))
        self._optimizer.build(self._network.trainable_variables)

    # --- Agent interface -------------------------------------------------------------

    @property
    def state_specs(self) -> tuple[FieldSpec, ...]:
        return self._network.encoder.state_specs

    @property
    def extras_specs(self) -> dict[str, FieldSpec]:
        return {"behaviour_logits": FieldSpec((self._num_actions,), np.dtype(np.float32))}

    @property
    def steps(self) -> int:
        return int(self._optimizer.iterations.numpy())

    def act(self, inputs: StepInputs, state: tuple[np.ndarray, ...]) -> ActOutput:
        action, value, logits, new_state = self._act_fn(
            inputs.observation, inputs.done, inputs.prev_action, inputs.reward, state
        )
        logits = logits.numpy()
        return ActOutput(
            action=action.numpy(), greedy_action=logits.argmax(axis=-1).astype(np.int32), value=value.numpy(),
            extras={"behaviour_logits": logits},
            state=tuple(s.numpy() for s in new_state),
        )

    @property
    def batch_multiple(self) -> int:
        return self._train_step.replicas

    def train(self, batch: TrainingBatch, frames: int) -> dict[str, float]:
        learning_rate = self._config.learning_rate
        if self._config.lr_decay:
            learning_rate *= max(0.0, 1.0 - frames / self._total_frames)
        self._optimizer.learning_rate.assign(learning_rate)  # outside the replicas: a mirrored variable
        metrics, _ = self._train_step(batch.steps, batch.initial_state, tf.constant(learning_rate, tf.float32))
        return metrics

    def acting_variables(self) -> list[tf.Variable]:
        return list(self._network.variables)

    def checkpoint_items(self) -> dict[str, Any]:
        return {"network": self._network, "optimizer": checkpointed(self._optimizer)}

    def serving_module(self) -> tf.Module:
        inputs = {"observation": tf.TensorSpec(self._obs_spec.shape, self._obs_spec.dtype, name="observation")}
        if self.state_specs or self._network_config.prev_action_reward:
            inputs["done"] = tf.TensorSpec([None], tf.bool, name="done")
        if self._network_config.prev_action_reward:
            inputs["prev_action"] = tf.TensorSpec([None], tf.int32, name="prev_action")
            inputs["reward"] = tf.TensorSpec([None], tf.float32, name="reward")
        for i, spec in enumerate(self.state_specs):
            inputs[f"state_{i}"] = tf.TensorSpec([None, *spec.shape], tf.float32, name=f"state_{i}")
        module = tf.Module()
        module.network = self._network
        module.serve = graph_function(self._serve_graph).get_concrete_function(**inputs)
        return module

    # --- Graphs ----------------------------------------------------------------------

    def _act_graph(self, observations, done, prev_action, reward, state):
        logits, value, new_state = self._network.step(observations, done, prev_action, reward, state)
        action = tf.random.categorical(logits, 1, dtype=tf.int32)[:, 0]
        return action, value, logits, new_state

    def _serve_graph(self, **inputs: tf.Tensor) -> dict[str, tf.Tensor]:
        """`serve` of `serving_module`: the inputs and outputs `Agent.serving_module` documents."""
        observation = inputs["observation"]
        rows = tf.shape(observation)[:1]
        done = inputs.get("done", tf.zeros(rows, tf.bool))
        prev_action = inputs.get("prev_action", tf.zeros(rows, tf.int32))
        reward = inputs.get("reward", tf.zeros(rows, tf.float32))
        state = tuple(inputs[f"state_{i}"] for i in range(len(self.state_specs)))
        action, value, logits, new_state = self._act_graph(observation, done, prev_action, reward, state)
        outputs = {
            "action": action,
            "greedy_action": tf.argmax(logits, axis=-1, output_type=tf.int32),
            "logits": logits,
            "value": value,
        }
        outputs.update({f"state_{i}": component for i, component in enumerate(new_state)})
        return outputs

    def _train_graph(self, steps, initial_state, learning_rate):
        """One replica's step on its b unrolls (`ReplicatedStep`): metrics, and no per-unroll output."""
        config = self._config
        reward = steps["reward"]
        if config.reward_clipping == "abs_one":
            reward = tf.clip_by_value(reward, -1.0, 1.0)
        r_t, discount_t = transition_rewards_and_discounts(
            reward, steps["terminated"], steps["truncated"], steps["truncation_value"], config.discount
        )
        done = tf.logical_or(steps["terminated"], steps["truncated"])
        variables = self._network.trainable_variables
        with tf.GradientTape() as tape:
            logits, values = self._network.unroll(
                steps["observation"], done, steps["prev_action"], steps["reward"], initial_state
            )
            losses = impala_loss(
                logits, values, steps["action"], steps["behaviour_logits"], r_t, discount_t,
                baseline_cost=config.baseline_cost, entropy_cost=config.entropy_cost,
                lambda_=config.trace_lambda, clip_rho_threshold=config.clip_rho_threshold,
                clip_pg_rho_threshold=config.clip_pg_rho_threshold,
            )
        grad_norm = replicas.apply_gradients(
            self._optimizer, replicas.gradients(tape, losses.loss, variables, self._optimizer), variables,
            config.max_grad_norm,
        )
        metrics = {
            "loss/total": losses.loss,
            "loss/policy": losses.policy_loss,
            "loss/baseline": losses.baseline_loss,
            "loss/entropy": losses.entropy_loss,
            "mean_rho": losses.mean_rho,
            "gradient_norm": grad_norm,
            "learning_rate": learning_rate,
            **off_policy_diagnostics(
                tf.cast(logits, tf.float32), steps["behaviour_logits"], steps["action"], done,
                config.clip_rho_threshold,
            ),
        }
        return metrics, ()
