"""Networks shared by the agents: torsos (MLP, IMPALA ResNet, Nature CNN), an LSTM core, heads.

`NetworkConfig` imports without TensorFlow; the Keras models load on first use
(`from seedrl.learner.networks import Encoder`), so specs validate in processes without it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from seedrl.learner.networks.config import NetworkConfig

if TYPE_CHECKING:
    from seedrl.learner.networks.encoder import Encoder, zero_step
    from seedrl.learner.networks.policy_value import PolicyValueNetwork
    from seedrl.learner.networks.torsos import build_torso

_LAZY = {
    "Encoder": "seedrl.learner.networks.encoder",
    "zero_step": "seedrl.learner.networks.encoder",
    "PolicyValueNetwork": "seedrl.learner.networks.policy_value",
    "build_torso": "seedrl.learner.networks.torsos",
}

__all__ = ["NetworkConfig", "Encoder", "PolicyValueNetwork", "build_torso", "zero_step"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
