"""DeepMind Lab as a Gymnasium env, written against `deepmind_lab`'s documented Python API.

`deepmind_lab.Lab(level, observations, config, renderer, level_cache)`, with `reset(seed=)`,
`is_running()`, `observations()` (a dict of arrays) and `step(action, num_steps=)` (the
summed reward). Observations: RGB_INTERLEAVED uint8 [72, 96, 3] (SEED's 96x72); actions:
SEED's 9 discrete actions, each repeated `action_repeat` frames. An episode ends when the
level stops running (its time limit): reported as terminated, as SEED does.

Not tested against the real library (it installs from no registry this project can reach):
the tests drive this adapter with a stand-in object that implements the same API.
"""

from __future__ import annotations

import os
from typing import Any, Callable

import gymnasium
import numpy as np
from gymnasium import spaces

WIDTH, HEIGHT = 96, 72
OBSERVATION = "RGB_INTERLEAVED"

# SEED RL's action set: (look left/right, look down/up, strafe left/right, forward/backward,
# fire, jump, crouch) per action.
ACTION_SET = np.array(
    [
        (0, 0, 0, 1, 0, 0, 0),  # forward
        (0, 0, 0, -1, 0, 0, 0),  # backward
        (0, 0, -1, 0, 0, 0, 0),  # strafe left
        (0, 0, 1, 0, 0, 0, 0),  # strafe right
        (-20, 0, 0, 0, 0, 0, 0),  # look left
        (20, 0, 0, 0, 0, 0, 0),  # look right
        (-20, 0, 0, 1, 0, 0, 0),  # look left + forward
        (20, 0, 0, 1, 0, 0, 0),  # look right + forward
        (0, 0, 0, 0, 1, 0, 0),  # fire
    ],
    dtype=np.intc,
)


class LevelCache:
    """DeepMind Lab's level cache: compiled maps (.pk3) shared between runs under `root`.

    `root` is a local folder or an fsspec URL (`gs://bucket/dmlab-cache` with gcsfs installed),
    so experiments on many machines share one cache. Lab calls `fetch` before compiling a
    level and `write` after.
    """

    def __init__(self, root: str):
        import fsspec

        self._fs, self._root = fsspec.core.url_to_fs(root)
        self._fs.makedirs(self._root, exist_ok=True)

    def _path(self, key: str) -> str:
        return f"{self._root.rstrip('/')}/{key}"

    def fetch(self, key: str, pk3_path: str) -> bool:
        """Copy the cached level `key` to `pk3_path`; False when it is not cached."""
        path = self._path(key)
        if not self._fs.exists(path):
            return False
        self._fs.get_file(path, pk3_path)
        return True

    def write(self, key: str, pk3_path: str) -> None:
        """Store the freshly compiled level at `pk3_path` as `key` (first writer wins)."""
        path = self._path(key)
        if not self._fs.exists(path):
            partial = f"{path}.{os.getpid()}.partial"
            self._fs.put_file(pk3_path, partial)
            self._fs.mv(partial, path)


class DMLabEnv(gymnasium.Env):
    """One DeepMind Lab level: uint8 [72, 96, 3] observations, 9 discrete actions."""

    metadata = {"render_modes": ["rgb_array"]}

    def __init__(
        self,
        level: str,
        action_repeat: int = 4,
        level_cache: LevelCache | None = None,
        lab_factory: Callable[..., Any] | None = None,
        render_mode: str | None = None,
    ):
        if lab_factory is None:
            import deepmind_lab

            lab_factory = deepmind_lab.Lab
        self._lab = lab_factory(
            level, [OBSERVATION], config={"width": str(WIDTH), "height": str(HEIGHT), "logLevel": "WARN"},
            renderer="software", level_cache=level_cache,
        )
        self._action_repeat = action_repeat
        self.render_mode = render_mode
        self.observation_space = spaces.Box(0, 255, (HEIGHT, WIDTH, 3), np.uint8)
        self.action_space = spaces.Discrete(len(ACTION_SET))
        self._last = np.zeros(self.observation_space.shape, np.uint8)

    def _observation(self) -> np.ndarray:
        self._last = np.asarray(self._lab.observations()[OBSERVATION], np.uint8)
        return self._last

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._lab.reset(seed=int(self.np_random.integers(2**31 - 1)))
        return self._observation(), {}

    def step(self, action):
        reward = float(self._lab.step(ACTION_SET[int(action)], num_steps=self._action_repeat))
        running = self._lab.is_running()
        # A finished level has no observations: its last one stands for the end.
        observation = self._observation() if running else self._last
        return observation, reward, not running, False, {}

    def render(self) -> np.ndarray:
        return self._last

    def close(self) -> None:
        self._lab.close()
