"""What an environment looks like to the learner: its `EnvSpec`, as actors present it (stacked).

The learner, the evaluator and the exporter all ask this of one freshly made env batch.
"""

from __future__ import annotations

from seedrl.common.spaces import EnvSpec
from seedrl.envs.batch import EnvBatch
from seedrl.spec.env import EnvOptions


def env_spec(env_id: str, options: EnvOptions | None = None) -> EnvSpec:
    """The spec of `env_id` with `options`, read off one freshly made environment."""
    batch = EnvBatch.make(env_id, 1, seed=0, options=options)
    try:
        return batch.spec(env_id)
    finally:
        batch.close()
