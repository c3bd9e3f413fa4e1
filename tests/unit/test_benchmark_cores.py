"""Benchmarks' core pinning: the split between actors and learner, and children confined to their cores."""

from __future__ import annotations

import subprocess
import sys

import pytest

from benchmarks.cores import available_cores, pinned_to, split_cores


def test_the_learner_gets_the_last_cores_and_the_actors_the_rest():
    assert split_cores(1, [0, 1]) == (frozenset({0}), frozenset({1}))
    assert split_cores(4, [3, 0, 2, 1, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]) == (
        frozenset(range(12)), frozenset(range(12, 16))
    )


@pytest.mark.parametrize("learner_cores", [0, 2, 3])
def test_a_split_that_leaves_a_side_without_a_core_is_refused(learner_cores):
    with pytest.raises(ValueError, match=f"cannot give the learner {learner_cores} of 2 cores"):
        split_cores(learner_cores, [0, 1])


def test_a_pinned_child_and_its_threads_run_only_on_their_cores():
    core = available_cores()[-1]
    program = (
        "import os, threading; seen = []; t = threading.Thread(target=lambda: seen.append(os.sched_getaffinity(0))); "
        "t.start(); t.join(); print(sorted(os.sched_getaffinity(0)), sorted(seen[0]))"
    )
    out = subprocess.run([sys.executable, "-c", program], preexec_fn=pinned_to(frozenset({core})),
                         capture_output=True, text=True, check=True).stdout
    assert out.split() == [f"[{core}]", f"[{core}]"]
    assert pinned_to(None) is None
