"""`NetworkConfig`: which network an agent builds, shared by every agent (the spec's `network` field).

Imports no TensorFlow: the controller validates specs without it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from seedrl.spec.base import SpecModel

Torso = Literal["auto", "mlp", "impala", "nature"]


class NetworkConfig(SpecModel):
    """The network: a torso, optionally the previous action and reward, optionally an LSTM core.

    `torso: auto` picks the IMPALA deep ResNet for image observations (rank-3 boxes, as
    Atari, DeepMind Lab and Football give) and an MLP for everything else.
    """

    torso: Torso = Field(
        "auto",
        description="auto (impala for image observations, mlp otherwise), mlp, impala (IMPALA deep ResNet "
                    "16/32/32 channels, 2 residual blocks per stack) or nature (Nature DQN CNN).",
    )
    hidden_sizes: tuple[int, ...] = Field((64, 64), description="Widths of the MLP torso's ReLU layers.")
    fc_size: int = Field(256, ge=1, le=65_536, description="Units of the ReLU layer after a convolutional torso.")
    lstm_size: int = Field(0, ge=0, le=65_536, description="LSTM units after the torso; 0 for feed-forward.")
    prev_action_reward: bool = Field(
        False,
        description="Feed the previous action (one-hot if discrete) and reward (clipped to [-1, 1]) to the "
                    "core, as SEED's IMPALA and R2D2 networks do.",
    )

    @field_validator("hidden_sizes")
    @classmethod
    def _check_widths(cls, hidden_sizes: tuple[int, ...]) -> tuple[int, ...]:
        if not hidden_sizes or len(hidden_sizes) > 32 or any(width <= 0 or width > 65_536 for width in hidden_sizes):
            raise ValueError("hidden_sizes needs 1 to 32 layers with widths in 1..65536")
        return hidden_sizes

    def resolved_torso(self, observation_shape: tuple[int, ...]) -> Literal["mlp", "impala", "nature"]:
        """The torso to build for observations of `observation_shape` (without batch dimensions)."""
        if self.torso != "auto":
            return self.torso
        return "impala" if len(observation_shape) == 3 else "mlp"
