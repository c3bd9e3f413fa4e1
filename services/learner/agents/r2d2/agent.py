"""The R2D2 agent: epsilon-greedy recurrent Q inference on the learner, prioritized sequence training.

On several training replicas (`seedrl.learner.devices`) each replica takes an equal share of
the sampled unrolls: the loss is a mean over them and the gradients are averaged over the
replicas, so the step is the one a single device takes on the whole batch. The target network is
copied outside the replicas.

Reference: Kapturowski et al., "Recurrent Experience Replay in Distributed
Reinforcement Learning", ICLR 2019; SEED RL's r2d2 learner.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from seedrl.common.spaces import DiscreteSpace, EnvSpec
from seedrl.learner.agents.base import ActOutput, FieldSpec, StepInputs, TrainingBatch
from seedrl.spec.r2d2 import R2D2Config
from seedrl.learner.agents.r2d2.exploration import slot_epsilons
from seedrl.learner.agents.r2d2.losses import inverse_value_rescale, r2d2_loss
from seedrl.learner.agents.r2d2.network import DuelingQNetwork
from seedrl.learner.agents.vtrace.losses import transition_rewards_and_discounts
from seedrl.learner.devices import replicas
from seedrl.learner.devices.precision import checkpointed, loss_scaled
from seedrl.learner.devices.replicated_step import ReplicatedStep
from seedrl.learner.networks.encoder import zero_step
from seedrl.spec.network import NetworkConfig
from seedrl.learner.replay.agent import ReplayAgent
from seedrl.spec.replay import ReplayConfig
from seedrl.learner.unrolls import Unrolls
from seedrl.learner.graphs import SignatureFunction, graph_function

# Per-step fields the train step reads ([burn_in + T + 1, B, ...] each).
TRAIN_FIELDS = ("observation", "reward", "terminated", "truncated", "truncation_value", "prev_action", "action")


class R2D2Agent(ReplayAgent):
    """Recurrent double Q-learning with n-step returns, value rescaling, burn-in and a target network."""

    name = "r2d2"

    def __init__(
        self, spec: EnvSpec, config: R2D2Config, network: NetworkConfig, max_slots: int, jit_compile: bool = False
    ):
        if not isinstance(spec.action_space, DiscreteSpace):
            raise ValueError(
                f"the r2d2 agent needs a discrete action space; {spec.env_id} has {spec.action_space!r} "
                "(use sac for continuous actions)"
            )
        self._config = config
        self._network_config = network
        self._num_actions = spec.action_space.n
        self._online = DuelingQNetwork(spec, network, self._num_actions, config.head_hidden_size)
        self._target = DuelingQNetwork(spec, network, self._num_actions, config.head_hidden_size)
        self._optimizer = loss_scaled(
            tf.keras.optimizers.Adam(learning_rate=config.learning_rate, epsilon=config.adam_epsilon)
        )
        self._epsilons = tf.constant(slot_epsilons(max_slots, config.epsilon_base, config.epsilon_alpha))

        obs_shape, obs_dtype = spec.observation_shape, tf.as_dtype(spec.observation_dtype)
        self._obs_spec = tf.TensorSpec([None, *obs_shape], obs_dtype)
        state_spec = tuple(tf.TensorSpec([None, *s.shape], tf.float32) for s in self.state_specs)
        rows = lambda dtype: tf.TensorSpec([None], dtype)  # noqa: E731
        self._act_fn = SignatureFunction(
            self._act_graph,
            input_signature=[self._obs_spec, rows(tf.bool), rows(tf.int32), rows(tf.float32), rows(tf.int32), state_spec],
        )
        self._train_step = ReplicatedStep(self._train_graph, jit_compile=jit_compile)
        length = config.burn_in + config.unroll_length + 1
        steps = lambda dtype, *shape: tf.TensorSpec([length, None, *shape], dtype)  # noqa: E731
        acted = {
            "reward": steps(tf.float32), "terminated": steps(tf.bool), "truncated": steps(tf.bool),
            "truncation_value": steps(tf.float32), "action": steps(tf.int32),
        }
        self._priorities_fn = graph_function(
            self._initial_priorities_graph,
            input_signature=[acted, steps(tf.float32, self._num_actions)],
        )
        # Create every variable now, so checkpoints restore before the first step.
        for network in (self._online, self._target):
            network.step(*zero_step(spec), network.initial_state(1))
        self._optimizer.build(self._online.trainable_variables)
        self._update_target()

    # --- Agent interface -------------------------------------------------------------

    @property
    def state_specs(self) -> tuple[FieldSpec, ...]:
        return self._online.encoder.state_specs

    @property
    def extras_specs(self) -> dict[str, FieldSpec]:
        return {"q_values": FieldSpec((self._num_actions,), np.dtype(np.float32))}

    @property
    def burn_in(self) -> int:
        return self._config.burn_in

    @property
    def replay_config(self) -> ReplayConfig:
        return self._config.replay

    @property
    def steps(self) -> int:
        return int(self._optimizer.iterations.numpy())

    def act(self, inputs: StepInputs, state: tuple[np.ndarray, ...]) -> ActOutput:
        action, evaluation_action, value, q_values, new_state = self._act_fn(
            inputs.observation, inputs.done, inputs.prev_action, inputs.reward, inputs.slot, state
        )
        return ActOutput(
            action=action.numpy(), greedy_action=evaluation_action.numpy(), value=value.numpy(),
            extras={"q_values": q_values.numpy()}, state=tuple(s.numpy() for s in new_state),
        )

    def initial_priorities(self, unrolls: Unrolls) -> np.ndarray:
        steps = {
            name: np.swapaxes(unrolls.steps[name], 0, 1)
            for name in ("reward", "terminated", "truncated", "truncation_value", "action", "q_values")
        }
        q_values = steps.pop("q_values")
        return self._priorities_fn(steps, q_values).numpy()

    def train_prioritized(
        self, batch: TrainingBatch, weights: np.ndarray, frames: int
    ) -> tuple[dict[str, float], np.ndarray]:
        del frames  # a constant learning rate
        metrics, priorities = self._train_step(
            {name: batch.steps[name] for name in TRAIN_FIELDS},
            (tuple(batch.initial_state), np.asarray(weights, np.float32)),
        )
        if self.steps % self._config.target_update_period == 0:
            self._update_target()
        return metrics, priorities

    def acting_variables(self) -> list[tf.Variable]:
        """The online network's variables (the exploration epsilons are constants)."""
        return list(self._online.variables)

    def checkpoint_items(self) -> dict[str, Any]:
        return {"network": self._online, "target_network": self._target, "optimizer": checkpointed(self._optimizer)}

    def serving_module(self) -> tf.Module:
        """`serve` returns action (epsilon-greedy at eval_epsilon), greedy_action, q_values, value and the state."""
        inputs = {"observation": tf.TensorSpec(self._obs_spec.shape, self._obs_spec.dtype, name="observation")}
        if self.state_specs or self._network_config.prev_action_reward:
            inputs["done"] = tf.TensorSpec([None], tf.bool, name="done")
        if self._network_config.prev_action_reward:
            inputs["prev_action"] = tf.TensorSpec([None], tf.int32, name="prev_action")
            inputs["reward"] = tf.TensorSpec([None], tf.float32, name="reward")
        for i, spec in enumerate(self.state_specs):
            inputs[f"state_{i}"] = tf.TensorSpec([None, *spec.shape], tf.float32, name=f"state_{i}")
        module = tf.Module()
        module.network = self._online
        module.serve = graph_function(self._serve_graph).get_concrete_function(**inputs)
        return module

    # --- Graphs ----------------------------------------------------------------------

    def _values(self, q_values: tf.Tensor) -> tf.Tensor:
        """max_a Q [..., A] -> state values [...] in return units (rescaling undone)."""
        value = tf.reduce_max(q_values, axis=-1)
        if self._config.value_rescaling:
            value = inverse_value_rescale(value, self._config.value_rescaling_eps)
        return value

    def _epsilon_greedy(self, q_values: tf.Tensor, epsilon: tf.Tensor) -> tf.Tensor:
        """Actions [N]: uniformly random with probability epsilon [N] (or scalar), else argmax Q [N, A]."""
        rows = tf.shape(q_values)[0]
        random_action = tf.random.uniform([rows], 0, self._num_actions, dtype=tf.int32)
        greedy = tf.argmax(q_values, axis=-1, output_type=tf.int32)
        return tf.where(tf.random.uniform([rows]) < epsilon, random_action, greedy)

    def _act_graph(self, observation, done, prev_action, reward, slot, state):
        q_values, new_state = self._online.step(observation, done, prev_action, reward, state)
        action = self._epsilon_greedy(q_values, tf.gather(self._epsilons, slot))
        evaluation_action = self._epsilon_greedy(q_values, self._config.eval_epsilon)
        return action, evaluation_action, self._values(q_values), q_values, new_state

    def _serve_graph(self, **inputs: tf.Tensor) -> dict[str, tf.Tensor]:
        observation = inputs["observation"]
        rows = tf.shape(observation)[:1]
        done = inputs.get("done", tf.zeros(rows, tf.bool))
        prev_action = inputs.get("prev_action", tf.zeros(rows, tf.int32))
        reward = inputs.get("reward", tf.zeros(rows, tf.float32))
        state = tuple(inputs[f"state_{i}"] for i in range(len(self.state_specs)))
        q_values, new_state = self._online.step(observation, done, prev_action, reward, state)
        outputs = {
            "action": self._epsilon_greedy(q_values, self._config.eval_epsilon),
            "greedy_action": tf.argmax(q_values, axis=-1, output_type=tf.int32),
            "q_values": q_values,
            "value": self._values(q_values),
        }
        outputs.update({f"state_{i}": component for i, component in enumerate(new_state)})
        return outputs

    def _rewards_and_discounts(self, steps: dict[str, tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
        """r_t, discount_t [T, B] of the T transitions after burn-in."""
        trained = {name: value[self._config.burn_in:] for name, value in steps.items()}
        reward = trained["reward"]
        if self._config.reward_clipping:
            reward = tf.clip_by_value(reward, -1.0, 1.0)
        return transition_rewards_and_discounts(
            reward, trained["terminated"], trained["truncated"], trained["truncation_value"], self._config.discount
        )

    def _loss(self, q_online, q_target, steps, weights):
        config = self._config
        r_t, discount_t = self._rewards_and_discounts(steps)
        return r2d2_loss(
            q_online[:-1], steps["action"][config.burn_in:-1], q_target[1:], q_online[1:], r_t, discount_t, weights,
            n=config.n_steps, rescale_eps=config.value_rescaling_eps if config.value_rescaling else None,
            priority_eta=config.priority_eta,
        )

    def _initial_priorities_graph(self, steps, q_values):
        """Priorities [B] from the Q-values seen while acting (online and target alike), no network call."""
        q_trained = q_values[self._config.burn_in:]
        weights = tf.ones(tf.shape(q_values)[1:2])
        return self._loss(q_trained, q_trained, steps, weights).priorities

    def _train_graph(self, steps, rows, scalars):
        """One replica's step on its b unrolls (`ReplicatedStep`): steps [burn_in+T+1, b, ...], rows the
        initial state [b, ...] and importance weights [b]. Returns the metrics and the priorities [b]."""
        del scalars
        initial_state, weights = rows
        config = self._config
        burn_in = config.burn_in
        inputs = lambda part: (steps["observation"][part], _done(steps)[part], steps["prev_action"][part],  # noqa: E731
                               steps["reward"][part])
        warm_up, trained = slice(0, burn_in), slice(burn_in, None)
        # Burn-in: warm the recurrent state up on the first steps, without gradients.
        online_state = tf.nest.map_structure(tf.stop_gradient, self._online.advance(*inputs(warm_up), initial_state))
        target_state = self._target.advance(*inputs(warm_up), initial_state)
        q_target = tf.stop_gradient(self._target.unroll(*inputs(trained), target_state))
        variables = self._online.trainable_variables
        with tf.GradientTape() as tape:
            q_online = self._online.unroll(*inputs(trained), online_state)
            out = self._loss(q_online, q_target, steps, weights)
        grad_norm = replicas.apply_gradients(
            self._optimizer, replicas.gradients(tape, out.loss, variables, self._optimizer), variables,
            config.max_grad_norm,
        )
        metrics = {
            "loss/total": out.loss,
            "gradient_norm": grad_norm,
            "learning_rate": tf.constant(config.learning_rate, tf.float32),
            "mean_q": tf.reduce_mean(q_online),
            "mean_abs_td_error": tf.reduce_mean(tf.abs(out.td_errors)),
            "mean_priority": tf.reduce_mean(out.priorities),
        }
        return metrics, out.priorities

    @graph_function
    def _update_target(self) -> None:
        for target, online in zip(self._target.variables, self._online.variables, strict=True):
            target.assign(online)


def _done(steps: dict[str, tf.Tensor]) -> tf.Tensor:
    """[L, B] bool: a new episode starts at the step."""
    return tf.logical_or(steps["terminated"], steps["truncated"])
