"""Factories for the `module:callable` env tests (real Gymnasium envs made through custom ids)."""

import gymnasium
from gymnasium import spaces


def cartpole():
    return gymnasium.make("CartPole-v1")


class MultiBinaryActions(gymnasium.Env):
    """A valid Gymnasium env whose action space does not travel (MultiBinary)."""

    observation_space = spaces.Box(-1.0, 1.0, (2,))
    action_space = spaces.MultiBinary(3)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self.observation_space.sample(), {}

    def step(self, action):
        return self.observation_space.sample(), 0.0, False, False, {}


def not_an_env():
    return 42


class MultiDiscreteActions(gymnasium.Env):
    """An env whose MultiDiscrete action (nvec (2, 3), start (1, -1)) it reports back as its observation."""

    observation_space = spaces.Box(-10.0, 10.0, (2,))
    action_space = spaces.MultiDiscrete([2, 3], start=[1, -1])

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self.observation_space.low * 0, {}

    def step(self, action):
        assert self.action_space.contains(action), action
        return action.astype("float32"), 0.0, False, False, {}


def multi_discrete_actions():
    return MultiDiscreteActions()


def huge_multi_discrete_actions():
    env = MultiDiscreteActions()
    env.action_space = spaces.MultiDiscrete([1000, 1000])
    return env
