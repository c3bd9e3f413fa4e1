"""The SAC agent: tanh-Gaussian inference on the learner, twin-critic training from the replay.

On several training replicas (`seedrl.learner.devices`) each replica takes an equal share of
the sampled unrolls and the gradients of every loss are averaged over the replicas, so the step
is the one a single device takes on the whole batch. The standard-normal noise of the
reparameterised policy actions is drawn for the whole batch before the step and shared out with
the unrolls (TensorFlow's global seed makes it reproducible), and the target critics are
smoothed outside the replicas.

Reference: Haarnoja et al., "Soft Actor-Critic Algorithms and Applications", 2018,
https://arxiv.org/abs/1812.05905.

Where this departs from the paper, on purpose:
- log pi of every policy action (the policy loss, the critic targets' next action, the acting value)
  is computed from the pre-squash sample u (`TanhGaussian.sample_with_log_prob`), never by passing
  the squashed action back through atanh, which float32 cannot do past |u| ~ 7.25.
- A truncated episode is bootstrapped from the soft value min_i Q_i(x, a) - alpha log pi(a|x) of its
  final observation as the acting networks (online critics, current temperature) computed it when the
  episode ended, not from the target critics at training time: the final observation is not stored
  (`transition_rewards_and_discounts`).
- With a priority exponent, the replay's importance weights are divided by the batch's largest, as
  Ape-X does (the SAC paper samples uniformly, the default here).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from seedrl.common.spaces import BoxSpace, EnvSpec
from seedrl.learner.agents.base import ActOutput, FieldSpec, StepInputs, TrainingBatch
from seedrl.spec.sac import SACConfig
from seedrl.learner.agents.sac.losses import actor_loss, critic_loss, polyak_update, soft_q_targets, temperature_loss
from seedrl.learner.agents.sac.network import PolicyNetwork, QNetwork
from seedrl.learner.agents.vtrace.losses import transition_rewards_and_discounts
from seedrl.learner.devices import replicas
from seedrl.learner.devices.precision import checkpointed, loss_scaled
from seedrl.learner.devices.replicated_step import ReplicatedStep
from seedrl.learner.distributions import TanhGaussian
from seedrl.spec.network import NetworkConfig
from seedrl.learner.replay.agent import ReplayAgent
from seedrl.spec.replay import ReplayConfig
from seedrl.learner.unrolls import Unrolls
from seedrl.learner.graphs import SignatureFunction, graph_function

# Per-step fields the train step reads ([T + 1, B, ...] each).
TRAIN_FIELDS = ("observation", "reward", "terminated", "truncated", "truncation_value", "prev_action", "action")


def check_sac_env(spec: EnvSpec, network: NetworkConfig) -> BoxSpace:
    """The action box of `spec`, or ValueError when SAC cannot act in it with `network`."""
    space = spec.action_space
    if not isinstance(space, BoxSpace) or len(space.shape) != 1:
        raise ValueError(
            f"the sac agent needs a continuous action space (a 1-D Box); {spec.env_id} has {space!r} "
            "(use r2d2 or vtrace for discrete actions)"
        )
    if not (np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))):
        raise ValueError(f"the sac agent scales actions to the env's bounds, which must be finite; {spec.env_id} has {space!r}")
    if network.lstm_size:
        raise ValueError("the sac agent is feed-forward: set network.lstm_size to 0")
    return space


class SACAgent(ReplayAgent):
    """Soft actor-critic with twin Q critics, Polyak-averaged target critics and a learned temperature."""

    name = "sac"

    def __init__(self, spec: EnvSpec, config: SACConfig, network: NetworkConfig, jit_compile: bool = False):
        space = check_sac_env(spec, network)
        self._config = config
        self._network_config = network
        low = np.broadcast_to(space.low, space.shape).astype(np.float32)
        high = np.broadcast_to(space.high, space.shape).astype(np.float32)
        self._center, self._half_width = (high + low) / 2, (high - low) / 2
        self._action_size = space.shape[0]
        self._distribution = TanhGaussian(low, high, initial_std=config.initial_std)
        self._policy = PolicyNetwork(spec, network, self._distribution.param_size)
        self._critics = [QNetwork(spec, network, config.critic_hidden_size) for _ in range(2)]
        self._target_critics = [QNetwork(spec, network, config.critic_hidden_size) for _ in range(2)]
        self._log_alpha = tf.Variable(np.log(config.initial_temperature), dtype=tf.float32, name="log_alpha")
        self._target_entropy = (
            -float(self._action_size) if config.target_entropy is None else config.target_entropy
        )

        def adam() -> tf.keras.optimizers.Optimizer:
            return loss_scaled(tf.keras.optimizers.Adam(learning_rate=config.learning_rate, epsilon=config.adam_epsilon))

        self._policy_optimizer, self._critic_optimizer, self._alpha_optimizer = adam(), adam(), adam()
        self._max_priority = 1.0

        obs_shape, obs_dtype = spec.observation_shape, tf.as_dtype(spec.observation_dtype)
        self._obs_spec = tf.TensorSpec([None, *obs_shape], obs_dtype)
        action_rows = tf.TensorSpec([None, self._action_size], tf.float32)
        rows = lambda dtype: tf.TensorSpec([None], dtype)  # noqa: E731
        self._act_fn = SignatureFunction(
            self._act_graph, input_signature=[self._obs_spec, rows(tf.bool), action_rows, rows(tf.float32)]
        )
        self._train_step = ReplicatedStep(self._train_graph, jit_compile=jit_compile)
        self._update_targets_fn = graph_function(self._update_targets)
        # Create every variable now, so checkpoints restore before the first step.
        self._act_graph(tf.zeros([1, *obs_shape], obs_dtype), tf.zeros([1], tf.bool), tf.zeros([1, self._action_size]),
                        tf.zeros([1]))
        for target in self._target_critics:
            target.q(target.step_features(tf.zeros([1, *obs_shape], obs_dtype), tf.zeros([1], tf.bool),
                                          tf.zeros([1, self._action_size]), tf.zeros([1])), tf.zeros([1, self._action_size]))
        self._policy_optimizer.build(self._policy.trainable_variables)
        self._critic_optimizer.build(self._critic_variables())
        self._alpha_optimizer.build([self._log_alpha])
        self._update_targets_fn(1.0)

    # --- Agent interface -------------------------------------------------------------

    @property
    def state_specs(self) -> tuple[FieldSpec, ...]:
        return ()

    @property
    def extras_specs(self) -> dict[str, FieldSpec]:
        return {}

    @property
    def replay_config(self) -> ReplayConfig:
        return self._config.replay

    @property
    def steps(self) -> int:
        return int(self._critic_optimizer.iterations.numpy())

    def act(self, inputs: StepInputs, state: tuple[np.ndarray, ...]) -> ActOutput:
        del state  # feed-forward
        action, greedy_action, value = self._act_fn(
            inputs.observation, inputs.done, inputs.prev_action.astype(np.float32, copy=False), inputs.reward
        )
        return ActOutput(action=action.numpy(), greedy_action=greedy_action.numpy(), value=value.numpy(),
                         extras={}, state=())

    def initial_priorities(self, unrolls: Unrolls) -> np.ndarray:
        """The largest priority training has assigned so far (Schaul et al.: new unrolls are replayed soon)."""
        return np.full(len(unrolls), self._max_priority)

    def train_prioritized(
        self, batch: TrainingBatch, weights: np.ndarray, frames: int
    ) -> tuple[dict[str, float], np.ndarray]:
        del frames  # a constant learning rate
        transitions, unrolls = batch.steps["reward"].shape
        # Standard-normal noise [B, 2, T, D] of the policy actions at the next states and at the states.
        noise = tf.random.normal([unrolls, 2, transitions - 1, self._action_size]).numpy()
        metrics, priorities = self._train_step(
            {name: batch.steps[name] for name in TRAIN_FIELDS}, (np.asarray(weights, np.float32), noise)
        )
        self._update_targets_fn(self._config.target_smoothing)
        self._max_priority = max(self._max_priority, float(priorities.max()))
        return metrics, priorities

    def acting_variables(self) -> list[tf.Variable]:
        """The policy's, then both critics' variables (the value estimate), then the log-temperature."""
        return [*self._policy.variables, *(v for critic in self._critics for v in critic.variables), self._log_alpha]

    def checkpoint_items(self) -> dict[str, Any]:
        return {
            "policy": self._policy, "critic_1": self._critics[0], "critic_2": self._critics[1],
            "target_critic_1": self._target_critics[0], "target_critic_2": self._target_critics[1],
            "log_alpha": self._log_alpha, "policy_optimizer": checkpointed(self._policy_optimizer),
            "critic_optimizer": checkpointed(self._critic_optimizer),
            "alpha_optimizer": checkpointed(self._alpha_optimizer),
        }

    def serving_module(self) -> tf.Module:
        """`serve` returns action (sampled), greedy_action (the tanh of the mean, scaled) and value."""
        inputs = {"observation": tf.TensorSpec(self._obs_spec.shape, self._obs_spec.dtype, name="observation")}
        if self._network_config.prev_action_reward:
            inputs["done"] = tf.TensorSpec([None], tf.bool, name="done")
            inputs["prev_action"] = tf.TensorSpec([None, self._action_size], tf.float32, name="prev_action")
            inputs["reward"] = tf.TensorSpec([None], tf.float32, name="reward")
        module = tf.Module()
        module.policy, module.critics = self._policy, self._critics
        module.serve = graph_function(self._serve_graph).get_concrete_function(**inputs)
        return module

    # --- Graphs ----------------------------------------------------------------------

    def _unit(self, action: tf.Tensor) -> tf.Tensor:
        """Env actions [..., D] in [low, high] -> [-1, 1], the critics' action input."""
        return (action - self._center) / self._half_width

    def _critic_variables(self) -> list[tf.Variable]:
        return [v for critic in self._critics for v in critic.trainable_variables]

    def _act_graph(self, observation, done, prev_action, reward):
        params = self._policy.step(observation, done, prev_action, reward)
        action, log_pi = self._distribution.sample_with_log_prob(params)
        # The soft state value V(x) = min_i Q_i(x, a) - alpha log pi(a|x) bootstraps truncated episodes.
        q = [c.q(c.step_features(observation, done, prev_action, reward), self._unit(action)) for c in self._critics]
        value = tf.minimum(*q) - tf.exp(self._log_alpha) * log_pi
        return action, self._distribution.mode(params), value

    def _serve_graph(self, **inputs: tf.Tensor) -> dict[str, tf.Tensor]:
        observation = inputs["observation"]
        rows = tf.shape(observation)[:1]
        done = inputs.get("done", tf.zeros(rows, tf.bool))
        prev_action = inputs.get("prev_action", tf.zeros([rows[0], self._action_size]))
        reward = inputs.get("reward", tf.zeros(rows, tf.float32))
        action, greedy_action, value = self._act_graph(observation, done, prev_action, reward)
        return {"action": action, "greedy_action": greedy_action, "value": value}

    def _train_graph(self, steps, rows, scalars):
        """One replica's step on its b unrolls (`ReplicatedStep`): steps [T+1, b, ...], rows the importance
        weights [b] and the action noise [b, 2, T, D]. Returns the metrics and the priorities [b]."""
        del scalars
        weights, noise = rows
        next_noise, noise = tf.unstack(tf.transpose(noise, [1, 2, 0, 3]))  # each [T, b, D]
        config = self._config
        r_t, discount_t = transition_rewards_and_discounts(
            steps["reward"], steps["terminated"], steps["truncated"], steps["truncation_value"], config.discount
        )
        weights_t = tf.broadcast_to(weights[None, :], tf.shape(r_t))  # [T, B]
        alpha = tf.exp(self._log_alpha)

        # Critics: regress both towards the soft target of the next state, with a fresh policy action.
        params = self._policy.unroll(steps)  # [T+1, B, P]
        next_action, next_log_pi = self._distribution.sample_with_log_prob(params[1:], next_noise)
        q_next = [c.q(c.features(steps)[1:], self._unit(next_action)) for c in self._target_critics]
        targets = soft_q_targets(r_t, discount_t, q_next[0], q_next[1], next_log_pi, alpha)
        critic_variables = self._critic_variables()
        with tf.GradientTape() as tape:
            features = [c.features(steps)[:-1] for c in self._critics]
            q_taken = [c.q(f, self._unit(steps["action"][:-1])) for c, f in zip(self._critics, features)]
            loss_critic = critic_loss(q_taken[0], q_taken[1], targets, weights_t)
        critic_norm = replicas.apply_gradients(
            self._critic_optimizer, replicas.gradients(tape, loss_critic, critic_variables, self._critic_optimizer),
            critic_variables,
        )

        # Policy: maximise the soft value of reparameterised actions under the updated critics.
        policy_variables = self._policy.trainable_variables
        with tf.GradientTape() as tape:
            params_tm1 = self._policy.unroll(steps)[:-1]
            action, log_pi = self._distribution.sample_with_log_prob(params_tm1, noise)
            q_new = [c.q(c.features(steps)[:-1], self._unit(action)) for c in self._critics]
            loss_actor = actor_loss(q_new[0], q_new[1], log_pi, alpha, weights_t)
        replicas.apply_gradients(
            self._policy_optimizer, replicas.gradients(tape, loss_actor, policy_variables, self._policy_optimizer),
            policy_variables,
        )

        # Temperature: steer the policy's entropy towards the target.
        with tf.GradientTape() as tape:
            loss_alpha = temperature_loss(self._log_alpha, log_pi, self._target_entropy)
        replicas.apply_gradients(
            self._alpha_optimizer, replicas.gradients(tape, loss_alpha, [self._log_alpha], self._alpha_optimizer),
            [self._log_alpha],
        )

        td = 0.5 * (tf.abs(targets - q_taken[0]) + tf.abs(targets - q_taken[1]))
        metrics = {
            "loss/critic": loss_critic,
            "loss/actor": loss_actor,
            "loss/temperature": loss_alpha,
            "gradient_norm": critic_norm,
            "learning_rate": tf.constant(config.learning_rate, tf.float32),
            "alpha": alpha,
            "entropy": -tf.reduce_mean(log_pi),
            "mean_q": tf.reduce_mean(q_taken[0]),
        }
        return metrics, tf.reduce_mean(td, axis=0)

    def _update_targets(self, smoothing: float) -> None:
        """Move the target critics `smoothing` of the way to the critics (1 copies); outside the replicas,
        where assigning the mirrored targets is allowed."""
        for target, critic in zip(self._target_critics, self._critics):
            polyak_update(target.variables, critic.variables, smoothing)
