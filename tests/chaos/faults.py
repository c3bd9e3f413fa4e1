"""Custom envs (`tests.chaos.faults:<factory>`) that make the learner fail the way a bug in it would.

A learner makes its env once to read the env's spaces; these factories then patch the learner
code loaded in that process so that training, or inference, raises after a few steps. Actors
make the same envs without the learner's code loaded, and step plain CartPole. A fault is
injected this way because none of the learner's real failures (a bug, a device error) can be
provoked on demand.
"""

from __future__ import annotations

import sys
from typing import Any, Callable

import gymnasium

TRAINED_STEPS_BEFORE_FAULT = 3
BATCHES_BEFORE_FAULT = 20


def _fail_after(owner: type, name: str, calls: int, message: str, counts: Callable[[Any], bool] = lambda _: True) -> None:
    original = getattr(owner, name)
    if getattr(original, "injected", False):  # the env was made again in this process
        return
    done = 0

    def failing(*args: Any, **kwargs: Any) -> Any:
        nonlocal done
        if done >= calls:
            raise RuntimeError(message)
        result = original(*args, **kwargs)
        done += counts(result)
        return result

    failing.injected = True  # type: ignore[attr-defined]
    setattr(owner, name, failing)


def training_fault() -> gymnasium.Env:
    """CartPole; in a learner, its trainer raises after TRAINED_STEPS_BEFORE_FAULT gradient steps."""
    if "seedrl.learner.training" in sys.modules:
        from seedrl.learner.training import Trainer

        _fail_after(Trainer, "_train_step", TRAINED_STEPS_BEFORE_FAULT, "injected training fault",
                    counts=lambda trained: trained is not None)
    return gymnasium.make("CartPole-v1")


def inference_fault() -> gymnasium.Env:
    """CartPole; in a learner, inference raises after BATCHES_BEFORE_FAULT batches."""
    if "seedrl.learner.inference" in sys.modules:
        from seedrl.learner.inference import InferencePipeline

        _fail_after(InferencePipeline, "process", BATCHES_BEFORE_FAULT, "injected inference fault")
    return gymnasium.make("CartPole-v1")
