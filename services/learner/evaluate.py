"""`seedrl eval`: a checkpoint's policy playing fresh environments in this process, no learner server.

The agent is built from the run folder's `learner.json` exactly as the learner built it,
restored from the checkpoint, and acts on K environments stepped together (the actors'
`EnvBatch`, frame stacking included). Episodes are split evenly over the K envs (each env
contributes its share), so short episodes are not over-represented in the statistics.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from seedrl.envs.batch import EnvBatch, GymnasiumEnvs
from seedrl.envs.describe import env_spec
from seedrl.envs.registry import frame_stack, make_env
from seedrl.spec.env import EnvOptions
from seedrl.common.checkpoint_files import latest_checkpoint
from seedrl.common.run_folder import RunFolder
from seedrl.common.spaces import EnvSpec
from seedrl.learner.agents import build_agent
from seedrl.learner.agents.base import Agent, StepInputs
from seedrl.learner.checkpoints import Checkpointer
from seedrl.spec.learner import LearnerConfig
from seedrl.learner.episodes import EpisodeStats


class EvaluationError(ValueError):
    """The checkpoint, its run folder or the environment cannot be evaluated."""


@dataclass
class EvalResult:
    """Returns and lengths (agent steps) of the evaluated episodes."""

    env: str
    checkpoint: str
    greedy: bool
    returns: list[float] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    video: str | None = None

    def summary(self) -> dict:
        returns = np.asarray(self.returns, np.float64)
        return {
            "env": self.env, "checkpoint": self.checkpoint, "policy": "greedy" if self.greedy else "sampled",
            "episodes": len(returns), "mean_return": float(returns.mean()), "std_return": float(returns.std()),
            "min_return": float(returns.min()), "max_return": float(returns.max()),
            "mean_length": float(np.mean(self.lengths)), "returns": self.returns, "video": self.video,
        }


def resolve(path: Path) -> tuple[LearnerConfig, Path]:
    """The learner config and checkpoint (a path without suffix) that `path` names.

    `path` is a run folder (its newest checkpoint), its `checkpoints` folder, or one
    checkpoint `RUN/checkpoints/ckpt-N`.
    """
    if path.is_dir():
        run = path.parent if path.name == "checkpoints" else path
        checkpoint = latest_checkpoint(RunFolder(run).checkpoints)
        if checkpoint is None:
            raise EvaluationError(f"no checkpoint in {RunFolder(run).checkpoints}")
    else:
        checkpoint, run = path, path.parent.parent
        if not Path(f"{checkpoint}.index").is_file():
            raise EvaluationError(f"no checkpoint {checkpoint} (expected {checkpoint}.index, or a run folder)")
    config_path = RunFolder(run).learner_config
    if not config_path.is_file():
        raise EvaluationError(f"{config_path} not found: the checkpoint's run folder holds the learner's config")
    return LearnerConfig.model_validate_json(config_path.read_text()), checkpoint


def restore_agent(config: LearnerConfig, spec: EnvSpec, checkpoint: Path) -> Agent:
    """The agent of `config` for an env of `spec`, built as the learner builds it, with the weights of
    `checkpoint` (a path without suffix): it acts as the learner acted when it saved the checkpoint."""
    agent = build_agent(config, spec)
    Checkpointer(checkpoint.parent, agent.checkpoint_items(), EpisodeStats(), max_to_keep=1).restore(checkpoint)
    return agent


def _batch(env_id: str, options: EnvOptions, num_envs: int, seed: int, video_dir: Path | None) -> EnvBatch:
    """The envs to play; with a video, one Gymnasium env rendering its first episode through RecordVideo."""
    if video_dir is None:
        return EnvBatch.make(env_id, num_envs, seed, options)
    from gymnasium.wrappers import RecordVideo

    env, frames_per_step = make_env(env_id, seed, options, render_mode="rgb_array")
    env = RecordVideo(env, str(video_dir), episode_trigger=lambda episode: episode == 0, name_prefix="eval",
                      disable_logger=True)
    return EnvBatch(GymnasiumEnvs([env], frames_per_step), frame_stack(env_id, options))


def play(agent: Agent, batch: EnvBatch, episodes: int, greedy: bool, result: EvalResult) -> None:
    """Act on `batch` until every env played its share of `episodes`; record returns and lengths."""
    k = len(batch)
    quota = np.full(k, episodes // k) + (np.arange(k) < episodes % k)
    played = np.zeros(k, np.int64)
    lengths = np.zeros(k, np.int64)
    state = tuple(np.zeros((k, *spec.shape), spec.dtype) for spec in agent.state_specs)
    spec = batch.spec(result.env)
    step = batch.reset()
    done = np.ones(k, bool)
    prev_action = np.zeros((k, *spec.action_shape), spec.action_dtype)
    slots = np.arange(k, dtype=np.int32)
    while (played < quota).any():
        out = agent.act(StepInputs(step.observations, done, prev_action, step.rewards, slots), state)
        prev_action = out.greedy_action if greedy else out.action
        state = out.state
        step = batch.step(prev_action)
        lengths += 1
        done = step.terminated | step.truncated
        for i, episode_return in zip(np.flatnonzero(done), step.episode_returns):
            if played[i] < quota[i]:
                result.returns.append(float(episode_return))
                result.lengths.append(int(lengths[i]))
                played[i] += 1
        lengths[done] = 0


def evaluate(
    checkpoint: Path, episodes: int, env: str | None = None, env_options: EnvOptions | None = None,
    greedy: bool = True, num_envs: int = 1, seed: int = 0, video: Path | None = None,
) -> EvalResult:
    """Play `episodes` episodes of `env` (default: the training env) with the policy of `checkpoint`.

    The env must present the training env's spaces (it may differ in options, e.g. sticky
    actions). With `video`, one env plays and its first episode is written to `video` (mp4).
    """
    if episodes < 1 or num_envs < 1:
        raise EvaluationError(f"episodes ({episodes}) and envs ({num_envs}) must be at least 1")
    config, path = resolve(checkpoint)
    env_id = env or config.env
    options = env_options if env_options is not None else (config.env_options if env is None else EnvOptions())
    batch = None
    video_dir = Path(tempfile.mkdtemp(prefix="seedrl-eval-video-")) if video else None
    try:
        batch = _batch(env_id, options, 1 if video else min(num_envs, episodes), seed, video_dir)
        trained = env_spec(config.env, config.env_options)
        differences = [d for d in trained.differences(batch.spec(env_id)) if not d.startswith("env_id")]
        if differences:
            raise EvaluationError(f"{env_id} does not match the checkpoint's env {config.env}: {'; '.join(differences)}")
        agent = restore_agent(config, trained, path)
        result = EvalResult(env=env_id, checkpoint=str(path), greedy=greedy)
        play(agent, batch, episodes, greedy, result)
        batch.close()  # closing RecordVideo writes the video file
        batch = None
        recorded = sorted(video_dir.glob("*.mp4")) if video_dir is not None else []
        if recorded:
            video.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(recorded[0]), video)
            result.video = str(video)
    finally:
        if batch is not None:
            batch.close()
        if video_dir is not None:
            shutil.rmtree(video_dir, ignore_errors=True)
    return result
