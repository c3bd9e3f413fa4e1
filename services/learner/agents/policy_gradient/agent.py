"""The on-policy agent: acting with a frozen copy of the policy, and one update of several epochs per batch.

One `train` call is one *update*: `epochs` passes over the batch, each of `minibatches` gradient
steps (with `minibatches: auto`, one per `auto_minibatch_unrolls` unrolls of the batch). While it runs, inference keeps acting with the *acting copy* of the network (and of the
normalisation statistics), which the update refreshes only once it is complete, as SEED's
policy-gradient learner does. So every unroll is acted by one policy version, and `steps` counts
updates: the learner's policy lag (updates between acting and training) is in those units.

Every step of an update is a `ReplicatedStep` (`seedrl.learner.devices`): the advantage estimates,
then each epoch's minibatch gradient steps, all in one call (`ReplicatedStep.loop`: one call per
gradient step cost more than the step of a small network on a CPU). On several training replicas each
replica takes an equal share of every minibatch. The update is the one a single device takes on the batch:
batch-wide statistics (advantage moments, V-MPO's top half, explained variance) span every
replica's share, and the normalisation statistics and the acting copy are updated outside the
replicas, from the whole batch.
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from typing import Any

import numpy as np
import tensorflow as tf

from seedrl.common.spaces import DiscreteSpace, EnvSpec, Space
from seedrl.learner.agents.base import ActOutput, Agent, FieldSpec, StepInputs, TrainingBatch
from seedrl.learner.agents.policy_gradient.advantages import Advantages
from seedrl.spec.policy_gradient import (
    SPLIT_MODES,
    PolicyGradientConfig,
    check_network,
    check_replicas,
    minibatch_count,
)
from seedrl.learner.agents.policy_gradient.normalization import RunningStatistics
from seedrl.learner.agents.policy_gradient.objective import Multipliers, Transitions, estimate_advantages, objective
from seedrl.learner.agents.vtrace.losses import transition_rewards_and_discounts
from seedrl.learner.devices import replicas
from seedrl.learner.devices.precision import checkpointed, loss_scaled
from seedrl.learner.devices.replicated_step import ReplicatedStep
from seedrl.learner.distributions import (
    ActionDistribution,
    Categorical,
    ClippedGaussian,
    Gaussian,
    TanhGaussian,
)
from seedrl.learner.networks.encoder import zero_step
from seedrl.learner.networks.policy_value import PolicyValueNetwork
from seedrl.spec.network import NetworkConfig
from seedrl.spec.scaling import AUTO
from seedrl.learner.graphs import SignatureFunction, graph_function

OBSERVATION_CLIP = 10.0  # normalised observations are clipped to [-10, 10]
# The time-major fields [T+1, B, ...] of a training batch the agent reads.
STEP_FIELDS = (
    "observation", "reward", "terminated", "truncated", "truncation_value", "prev_action", "action",
    "behaviour_params", "behaviour_value",
)


def make_distribution(space: Space, config: PolicyGradientConfig) -> ActionDistribution:
    """The action distribution `config.action_distribution` names, for actions of `space`."""
    kind = config.action_distribution
    if isinstance(space, DiscreteSpace):
        if kind not in ("auto", "categorical"):
            raise ValueError(f"action_distribution {kind} needs a box action space, not {space!r}")
        return Categorical(space.n)
    if kind == "categorical":
        raise ValueError(f"action_distribution categorical needs a discrete action space, not {space!r}")
    if len(space.shape) != 1:
        raise ValueError(f"continuous actions must be vectors (shape (D,)), not {space.shape}")
    if kind == "gaussian":
        return Gaussian(space.shape[0], config.initial_std, config.min_std)
    bounded = TanhGaussian if kind == "tanh_gaussian" else ClippedGaussian
    return bounded(space.low, space.high, config.initial_std, config.min_std)


class PolicyGradientAgent(Agent):
    """A policy-value network trained by the policy loss, advantage estimator and options of `config`."""

    def __init__(
        self, spec: EnvSpec, config: PolicyGradientConfig, network: NetworkConfig, *, name: str, total_frames: int,
        jit_compile: bool = False,
    ):
        check_network(config, network.lstm_size)
        if config.normalize_observations and not np.issubdtype(spec.observation_dtype, np.floating):
            raise ValueError(
                f"normalize_observations needs float observations; {spec.env_id} gives {spec.observation_dtype}"
            )
        self.name = name
        self._config = config
        self._network_config = network
        self._total_frames = total_frames
        self._spec = spec
        self._distribution = make_distribution(spec.action_space, config)
        self._action_dtype = tf.as_dtype(spec.action_dtype)

        # The network being trained and the copy that acts (refreshed after each update).
        self._network = PolicyValueNetwork(spec, network, self._distribution.param_size)
        self._acting_network = PolicyValueNetwork(spec, network, self._distribution.param_size)
        obs_shape = spec.observation_shape
        self._observation_statistics = self._acting_observation_statistics = None
        if config.normalize_observations:
            self._observation_statistics = RunningStatistics(obs_shape, min_std=1e-4, clip=OBSERVATION_CLIP)
            self._acting_observation_statistics = RunningStatistics(obs_shape, min_std=1e-4, clip=OBSERVATION_CLIP)
        self._value_statistics = self._acting_value_statistics = None
        if config.normalize_values:
            self._value_statistics = RunningStatistics((), min_std=1e-2)
            self._acting_value_statistics = RunningStatistics((), min_std=1e-2)
        self._updates = tf.Variable(0, dtype=tf.int64, trainable=False, name="updates")
        self._optimizer = loss_scaled(
            tf.keras.optimizers.Adam(learning_rate=config.learning_rate, epsilon=config.adam_epsilon)
        )
        self._multipliers = self._multiplier_optimizer = None
        if config.policy_loss == "vmpo":
            components = len(self._distribution.kl_components(tf.zeros([1, self._distribution.param_size]),
                                                              tf.zeros([1, self._distribution.param_size])))
            self._multipliers = Multipliers(
                tf.Variable(math.log(config.vmpo_initial_temperature), dtype=tf.float32, name="log_temperature"),
                tf.Variable([math.log(config.vmpo_initial_alpha)] * components, dtype=tf.float32, name="log_alphas"),
            )
            self._multiplier_optimizer = tf.keras.optimizers.Adam(learning_rate=config.vmpo_multiplier_learning_rate)
        # Inference and the end of an update both touch the acting copy; one at a time.
        self._acting_lock = threading.Lock()

        obs_dtype = tf.as_dtype(spec.observation_dtype)
        action_shape = spec.action_shape
        state_spec = tuple(tf.TensorSpec([None, *s.shape], tf.float32) for s in self.state_specs)
        self._obs_spec = tf.TensorSpec([None, *obs_shape], obs_dtype)
        self._act_fn = SignatureFunction(self._act_graph, input_signature=[
            self._obs_spec, tf.TensorSpec([None], tf.bool), tf.TensorSpec([None, *action_shape], self._action_dtype),
            tf.TensorSpec([None], tf.float32), state_spec,
        ])
        self._estimate_step = ReplicatedStep(self._estimate_graph, jit_compile)
        minibatch_graph = self._transition_step_graph if config.batch_mode in SPLIT_MODES else self._unroll_step_graph
        self._minibatch_step = ReplicatedStep(minibatch_graph, jit_compile)
        check_replicas(config, self._minibatch_step.replicas)
        self._minibatches_fn = graph_function(self._minibatches_graph)
        self._end_update_fn = graph_function(self._end_update_graph)
        self._refresh_fn = graph_function(self._refresh_acting_copy)

        # Create every variable now, so checkpoints restore before the first update.
        for net in (self._network, self._acting_network):
            net.step(*zero_step(spec), net.initial_state(1))
        self._optimizer.build(self._network.trainable_variables)
        if self._multipliers is not None:
            self._multiplier_optimizer.build(list(self._multipliers))
        self._refresh_fn()

    # --- Agent interface -------------------------------------------------------------

    @property
    def state_specs(self) -> tuple[FieldSpec, ...]:
        return self._network.encoder.state_specs

    @property
    def extras_specs(self) -> dict[str, FieldSpec]:
        return {
            "behaviour_params": FieldSpec((self._distribution.param_size,), np.dtype(np.float32)),
            "behaviour_value": FieldSpec((), np.dtype(np.float32)),
        }

    @property
    def batch_multiple(self) -> int:
        """Every minibatch splits evenly over the training replicas."""
        if self._config.minibatches == AUTO:  # check_replicas: each minibatch splits over the replicas
            return self._config.auto_minibatch_unrolls
        return self._config.minibatches * self._minibatch_step.replicas

    @property
    def steps(self) -> int:
        """Updates so far (each is epochs x minibatches gradient steps): the acting policy's version."""
        return int(self._updates.numpy())

    def act(self, inputs: StepInputs, state: tuple[np.ndarray, ...]) -> ActOutput:
        with self._acting_lock:
            action, greedy, value, params, new_state = self._act_fn(
                inputs.observation, inputs.done, inputs.prev_action, inputs.reward, state
            )
        value = value.numpy()
        return ActOutput(
            action=action.numpy(), greedy_action=greedy.numpy(), value=value,
            extras={"behaviour_params": params.numpy(), "behaviour_value": value},
            state=tuple(s.numpy() for s in new_state),
        )

    def train(self, batch: TrainingBatch, frames: int) -> dict[str, float]:
        """One update: epochs x minibatches gradient steps on `batch`, then the acting copy is refreshed."""
        config = self._config
        learning_rate = config.learning_rate
        if config.lr_decay:
            learning_rate *= max(0.0, 1.0 - frames / self._total_frames)
        self._optimizer.learning_rate.assign(learning_rate)
        steps = {name: tf.convert_to_tensor(batch.steps[name]) for name in STEP_FIELDS}
        state = tuple(tf.convert_to_tensor(s) for s in batch.initial_state)

        count = minibatch_count(config, steps["reward"].shape[1])  # reward: [T+1, B]
        diagnostics, estimates = self._estimate(steps, state)
        totals: dict[str, float] = defaultdict(float)
        minibatches, rows = self._minibatches(steps, state, estimates, count)
        for epoch in range(config.epochs):
            if epoch and config.batch_mode != "repeat":  # repeat: the same minibatches every epoch
                if config.batch_mode == "split_with_advantage_recomputation":
                    diagnostics, estimates = self._estimate(steps, state)
                minibatches, rows = self._minibatches(steps, state, estimates, count)
            for name, value in self._minibatch_step.loop(minibatches, rows).items():  # means over the epoch's steps
                totals[name] += value
        metrics = {name: total / config.epochs for name, total in totals.items()}
        self._end_update_fn(steps, estimates.targets)
        with self._acting_lock:
            self._refresh_fn()
            self._updates.assign_add(1)
        metrics.update(diagnostics, learning_rate=learning_rate, batch_size=float(steps["reward"].shape[1]),
                       minibatches=float(count))
        return metrics

    def acting_variables(self) -> list[tf.Variable]:
        """The acting copy's network, then its observation and value statistics (those configured)."""
        variables = list(self._acting_network.variables)
        for statistics in (self._acting_observation_statistics, self._acting_value_statistics):
            if statistics is not None:
                variables.extend(statistics.variables)
        return variables

    def checkpoint_items(self) -> dict[str, Any]:
        items: dict[str, Any] = {
            "network": self._network, "acting_network": self._acting_network,
            "optimizer": checkpointed(self._optimizer), "updates": self._updates,
        }
        for name, statistics in (
            ("observation_statistics", self._observation_statistics),
            ("acting_observation_statistics", self._acting_observation_statistics),
            ("value_statistics", self._value_statistics),
            ("acting_value_statistics", self._acting_value_statistics),
        ):
            if statistics is not None:
                items[name] = statistics
        if self._multipliers is not None:
            items.update(
                log_temperature=self._multipliers.log_temperature, log_alphas=self._multipliers.log_alphas,
                multiplier_optimizer=self._multiplier_optimizer,
            )
        return items

    def serving_module(self) -> tf.Module:
        action_shape = self._spec.action_shape
        inputs = {"observation": tf.TensorSpec(self._obs_spec.shape, self._obs_spec.dtype, name="observation")}
        if self.state_specs or self._network_config.prev_action_reward:
            inputs["done"] = tf.TensorSpec([None], tf.bool, name="done")
        if self._network_config.prev_action_reward:
            inputs["prev_action"] = tf.TensorSpec([None, *action_shape], self._action_dtype, name="prev_action")
            inputs["reward"] = tf.TensorSpec([None], tf.float32, name="reward")
        for i, spec in enumerate(self.state_specs):
            inputs[f"state_{i}"] = tf.TensorSpec([None, *spec.shape], tf.float32, name=f"state_{i}")
        module = tf.Module()
        module.network = self._acting_network
        module.statistics = [s for s in (self._acting_observation_statistics, self._acting_value_statistics) if s]
        module.serve = graph_function(self._serve_graph).get_concrete_function(**inputs)
        return module

    # --- Acting ----------------------------------------------------------------------

    def _act_graph(self, observation, done, prev_action, reward, state):
        """The acting copy on N rows: action, greedy action, value [N], policy params [N, P], new state."""
        if self._acting_observation_statistics is not None:
            observation = self._acting_observation_statistics.normalize(observation)
        params, value, new_state = self._acting_network.step(observation, done, prev_action, reward, state)
        if self._acting_value_statistics is not None:
            value = self._acting_value_statistics.denormalize(value)
        action = tf.cast(self._distribution.sample(params), self._action_dtype)
        greedy = tf.cast(self._distribution.mode(params), self._action_dtype)
        return action, greedy, value, params, new_state

    def _serve_graph(self, **inputs: tf.Tensor) -> dict[str, tf.Tensor]:
        """`serve` of `serving_module`: the inputs and outputs `Agent.serving_module` documents, plus
        `policy_params` [B, P] (for discrete actions these are the `logits`)."""
        observation = inputs["observation"]
        rows = tf.shape(observation)[:1]
        done = inputs.get("done", tf.zeros(rows, tf.bool))
        prev_action = inputs.get("prev_action", tf.zeros(tf.concat([rows, self._spec.action_shape], 0), self._action_dtype))
        reward = inputs.get("reward", tf.zeros(rows, tf.float32))
        state = tuple(inputs[f"state_{i}"] for i in range(len(self.state_specs)))
        action, greedy, value, params, new_state = self._act_graph(observation, done, prev_action, reward, state)
        outputs = {"action": action, "greedy_action": greedy, "value": value, "policy_params": params}
        if isinstance(self._distribution, Categorical):
            outputs["logits"] = params
        outputs.update({f"state_{i}": component for i, component in enumerate(new_state)})
        return outputs

    def _refresh_acting_copy(self) -> None:
        for acting, trained in zip(self._acting_network.variables, self._network.variables):
            acting.assign(trained)
        for acting, trained in (
            (self._acting_observation_statistics, self._observation_statistics),
            (self._acting_value_statistics, self._value_statistics),
        ):
            if acting is not None:
                acting.assign(trained)

    # --- Learning --------------------------------------------------------------------

    def _forward(self, steps, state):
        """The trained network over unrolls: policy params [T+1, B, P], values [T+1, B] (head units)."""
        observation = steps["observation"]
        if self._observation_statistics is not None:
            observation = self._observation_statistics.normalize(observation)
        done = tf.logical_or(steps["terminated"], steps["truncated"])
        return self._network.unroll(observation, done, steps["prev_action"], steps["reward"], state)

    def _returns_units(self, values: tf.Tensor) -> tf.Tensor:
        return values if self._value_statistics is None else self._value_statistics.denormalize(values)

    def _rewards(self, steps):
        """r_t, discount_t [T, B] of the unroll's transitions, after reward clipping and scaling."""
        reward = steps["reward"] * self._config.reward_scale
        if self._config.reward_clipping == "abs_one":
            reward = tf.clip_by_value(reward, -1.0, 1.0)
        return transition_rewards_and_discounts(
            reward, steps["terminated"], steps["truncated"], steps["truncation_value"], self._config.discount
        )

    def _advantages(self, steps, params, values):
        """Targets and advantages [T, B] for network outputs params [T+1, B, P] and values [T+1, B]."""
        r_t, discount_t = self._rewards(steps)
        actions = steps["action"][:-1]
        log_rho = self._distribution.log_prob(params[:-1], actions) - self._distribution.log_prob(
            steps["behaviour_params"][:-1], actions
        )
        return estimate_advantages(self._config, self._returns_units(values), r_t, discount_t, tf.stop_gradient(log_rho))

    def _estimate(self, steps, state) -> tuple[dict[str, float], Advantages]:
        """Targets and advantages [T, B] (arrays) of the whole batch with the current network, and diagnostics."""
        diagnostics, (targets, advantages) = self._estimate_step(steps, state)
        return diagnostics, Advantages(targets.T, advantages.T)

    def _estimate_graph(self, steps, state, scalars):
        """One replica's `_estimate` on its b unrolls: explained variance of the whole batch, and targets
        and advantages batch-major [b, T]."""
        del scalars
        params, values = self._forward(steps, state)
        estimates = self._advantages(steps, params, values)
        residual = estimates.targets - self._returns_units(values[:-1])
        explained = 1.0 - replicas.moments(residual)[1] / (replicas.moments(estimates.targets)[1] + 1e-8)
        rows = (tf.transpose(estimates.targets), tf.transpose(estimates.advantages))
        return {"explained_variance": explained}, rows

    @staticmethod
    def _transitions(steps, estimates: Advantages) -> dict[str, tf.Tensor]:
        """The batch's T x B transitions as one step of T x B unrolls: each field [1, T*B, ...], the
        unroll's first T steps flattened."""
        def flatten(x):
            return tf.reshape(x, tf.concat([[1, -1], tf.shape(x)[2:]], 0))

        transitions = {name: flatten(value[:-1]) for name, value in steps.items()}
        transitions.update(targets=flatten(estimates.targets), advantages=flatten(estimates.advantages))
        return transitions

    def _minibatches(self, steps, state, estimates: Advantages, count: int) -> tuple[dict[str, tf.Tensor], Any]:
        """One epoch's K = `count` minibatches, stacked in order, as (steps, rows) for `_minibatch_step.loop`:
        transitions [K, 1, M] with their targets and advantages and no rows (split modes), or unrolls
        [K, T+1, M] and their initial state [K, M, ...]. Each replica takes an equal share of every minibatch."""
        config = self._config
        length, unrolls = steps["reward"].shape  # T+1, B
        order = None
        if config.batch_mode in SPLIT_MODES:
            order = tf.random.shuffle(tf.range((length - 1) * unrolls))
        elif config.batch_mode == "shuffle":
            order = tf.random.shuffle(tf.range(unrolls))
        return self._minibatches_fn(steps, state, estimates, order, count)

    def _minibatches_graph(self, steps, state, estimates: Advantages, order: tf.Tensor | None, count: int):
        """`_minibatches` taken in `order` (transitions or unrolls; None: as they are)."""
        if self._config.batch_mode in SPLIT_MODES:
            return stack_minibatches(self._transitions(steps, estimates), order, count, axis=1), ()
        return stack_minibatches(steps, order, count, axis=1), stack_minibatches(state, order, count, axis=0)

    def _unroll_step_graph(self, minibatch, state, scalars):
        """One replica's gradient step on its unrolls [T+1, m] of a minibatch (initial state [m, ...]);
        advantages from the current network."""
        del scalars

        def batch_of(params, values):
            estimates = self._advantages(minibatch, params, values)
            return self._batch(minibatch, params[:-1], values[:-1], estimates.targets, estimates.advantages,
                               last=-1)

        return self._gradient_step(lambda: batch_of(*self._forward(minibatch, state)))

    def _transition_step_graph(self, minibatch, rows, scalars):
        """One replica's gradient step on its transitions [1, m] of a minibatch, with their precomputed
        targets and advantages."""
        del rows, scalars

        def batch_of():
            params, values = self._forward(minibatch, ())
            return self._batch(minibatch, params, values, minibatch["targets"], minibatch["advantages"], last=None)

        return self._gradient_step(batch_of)

    @staticmethod
    def _batch(steps, params, values, targets, advantages, last: int | None) -> Transitions:
        """`Transitions` from network outputs and the steps they were computed on (`last`: steps kept)."""
        return Transitions(
            params=params, values=values, actions=steps["action"][:last],
            behaviour_params=steps["behaviour_params"][:last], behaviour_values=steps["behaviour_value"][:last],
            targets=targets, advantages=advantages,
        )

    def _gradient_step(self, batch_fn) -> tuple[dict[str, tf.Tensor], tuple]:
        """Minimise the objective on the `Transitions` `batch_fn` computes (under the tape); gradients are
        averaged over the replicas. Returns the metrics and no per-unroll output."""
        variables = self._network.trainable_variables
        multipliers = list(self._multipliers) if self._multipliers is not None else []
        with tf.GradientTape(persistent=bool(multipliers)) as tape:
            output = objective(self._config, self._distribution, batch_fn(), self._value_statistics, self._multipliers)
        norm = replicas.apply_gradients(
            self._optimizer, replicas.gradients(tape, output.loss, variables, self._optimizer), variables,
            self._config.max_grad_norm,
        )
        if multipliers:
            replicas.apply_gradients(
                self._multiplier_optimizer,
                replicas.gradients(tape, output.loss, multipliers, self._multiplier_optimizer), multipliers,
            )
        return {**output.metrics, "gradient_norm": norm}, ()

    def _end_update_graph(self, steps, targets):
        """Add the batch's observations and value targets [T, B] to the normalisation statistics (outside
        the replicas: every replica's statistics take the whole batch)."""
        if self._observation_statistics is not None:
            self._observation_statistics.update(steps["observation"][:-1])
        if self._value_statistics is not None:
            self._value_statistics.update(targets)


def stack_minibatches(structure: Any, order: tf.Tensor | None, count: int, axis: int) -> Any:
    """`structure` with each tensor split into `count` equal minibatches along `axis`, taken in `order` ([N]
    indices; None keeps them as they are), and stacked: a tensor [..., N (at axis), ...] becomes
    [count, ..., N / count, ...]."""

    def stacked(tensor: tf.Tensor) -> tf.Tensor:
        if order is not None:
            tensor = tf.gather(tensor, order, axis=axis)
        return tf.stack(tf.split(tensor, count, axis=axis))

    return tf.nest.map_structure(stacked, structure)
