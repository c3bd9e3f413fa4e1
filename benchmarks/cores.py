"""CPU cores for benchmark processes: the actors on some cores, the learner on the others.

A learner runs on a node of its own in a deployment (a StatefulSet pod on an accelerator node),
so its CPU work does not slow the actors. On one machine, pinning the learner and the actors to
disjoint cores measures that layout; running everything on every core measures a laptop.
"""

from __future__ import annotations

import os
from typing import Callable

Cores = frozenset[int]


def available_cores() -> list[int]:
    """The cores this process may run on, ascending."""
    return sorted(os.sched_getaffinity(0))


def split_cores(learner_cores: int, cores: list[int] | None = None) -> tuple[Cores, Cores]:
    """(actor cores, learner cores): the last `learner_cores` of `cores` (default: all available) for the learner.

    Raises:
      ValueError: the split leaves the actors or the learner without a core.
    """
    cores = available_cores() if cores is None else sorted(cores)
    if not 1 <= learner_cores < len(cores):
        raise ValueError(f"cannot give the learner {learner_cores} of {len(cores)} cores and the actors the rest")
    return frozenset(cores[:-learner_cores]), frozenset(cores[-learner_cores:])


def pinned_to(cores: Cores | None) -> Callable[[], None] | None:
    """A `preexec_fn` for `subprocess.Popen` that confines the child (and every thread it starts) to `cores`."""
    if cores is None:
        return None
    return lambda: os.sched_setaffinity(0, cores)
