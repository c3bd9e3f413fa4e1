"""`ExperimentSpec`: the one description of an experiment.

The REST API takes it as its body and publishes its JSON schema, `seedrl train`'s
flags are its fields, the Kubernetes custom resource's `spec` is generated from it,
and the learner's and actors' process configs are derived from it. Defaults live
here, but for those that depend on the env family and the agent
(`seedrl.spec.family_defaults`, filled in by `seedrl.admission`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from seedrl.spec.agents import ACTION_KINDS, AgentName
from seedrl.spec.base import SpecModel
from seedrl.spec.env import (
    EnvOptions, UnknownEnvError, catalogue_in, check_level_cache, check_options, level_cache_roots, split_env_id,
)
from seedrl.spec.policy_gradient import PRESETS, PolicyGradientConfig, check_network, resolve
from seedrl.spec.r2d2 import R2D2Config
from seedrl.spec.sac import SACConfig
from seedrl.spec.vtrace import VTraceConfig
from seedrl.spec.devices import DevicesSpec, TpuSpec
from seedrl.spec.network import NetworkConfig
from seedrl.spec.node_shapes import SHAPES, MachineShape, check_learner_fits, tpu_machine

# An RFC 1035 label (it starts with a letter, as the learner's Service name must) short enough for the
# Kubernetes objects named after it (`<name>-learner-0`, `<name>-actors-<hash>-<id>` stay within 63 characters).
NAME_PATTERN = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
NAME_MAX_LENGTH = 40
ExperimentName = Annotated[str, StringConstraints(min_length=1, max_length=NAME_MAX_LENGTH, pattern=NAME_PATTERN)]

# `family:id`: a family name, then a Gymnasium-style id (letters, digits, `_`, `-`, `.`, `/`); or a custom
# factory `module.path:callable` (allowed only with SEEDRL_ALLOW_CUSTOM_ENVS=1, checked by `_known_env`).
ENV_ID_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z0-9_][A-Za-z0-9_./-]*$"
EnvId = Annotated[str, StringConstraints(min_length=3, max_length=200, pattern=ENV_ID_PATTERN)]

# A checkpoint of this experiment (`ckpt-1200`) or of another one (`other-run/ckpt-1200`).
CHECKPOINT_REF_PATTERN = r"^(?:[a-z0-9](?:[-a-z0-9]*[a-z0-9])?/)?ckpt-[0-9]{1,12}$"
CheckpointRef = Annotated[str, StringConstraints(max_length=NAME_MAX_LENGTH + 20, pattern=CHECKPOINT_REF_PATTERN)]

# Kubernetes resource quantities, restricted to the forms people write.
CpuQuantity = Annotated[str, StringConstraints(max_length=16, pattern=r"^([0-9]{1,4}(\.[0-9]{1,3})?|[0-9]{1,7}m)$")]
MemoryQuantity = Annotated[str, StringConstraints(max_length=16, pattern=r"^[0-9]{1,6}(\.[0-9]{1,3})?(Ki|Mi|Gi|Ti|k|M|G|T)?$")]

class InferenceSpec(SpecModel):
    """Central batched inference on the learner."""

    max_batch_size: int = Field(256, ge=1, le=65_536, description="Flush an inference batch once this many envs wait.")
    max_wait_ms: float = Field(2.0, ge=0, le=1000, description="Flush an inference batch once its oldest request waited this long.")
    max_slots: int = Field(4096, ge=1, le=1_000_000, description="Env slots the learner can lease to actors (bounds actors x envs_per_actor).")


class CheckpointPolicy(SpecModel):
    """When checkpoints are written and how many are kept."""

    every_s: float = Field(120.0, gt=0, le=86_400, description="Seconds between checkpoints (one is also written when the learner stops).")
    keep: int = Field(3, ge=1, le=1000, description="Newest checkpoints kept on disk.")


class LearnerResources(SpecModel):
    cpu: CpuQuantity = Field("4", description="CPU request of the learner.")
    memory: MemoryQuantity = Field("16Gi", description="Memory request of the learner.")
    gpu: int = Field(0, ge=0, le=16, description="GPUs for the learner (nvidia.com/gpu).")
    gpu_type: str | None = Field(
        None, max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        description="GKE accelerator type for the GPUs (cloud.google.com/gke-accelerator), e.g. nvidia-l4.",
    )
    tpu: TpuSpec | None = Field(None, description="A TPU slice instead of GPUs.")
    machine_type: str | None = Field(
        None, max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", validate_default=True,
        description="GKE machine type of the learner's node pool (node.kubernetes.io/instance-type), e.g. "
                    "g2-standard-8: the learner selects it, and the request must fit its allocatable "
                    "(docs/gke.md). Unset: any node; a TPU slice is still checked against its host.",
    )

    # Cross-field checks are field validators (they see the fields declared before), so that an
    # error names the field to fix; a checked field validates its default too.
    @field_validator("gpu_type")
    @classmethod
    def _gpu_type_needs_gpus(cls, gpu_type: str | None, info: ValidationInfo) -> str | None:
        if gpu_type is not None and not info.data.get("gpu"):
            raise ValueError("gpu_type needs gpu >= 1")
        return gpu_type

    @field_validator("tpu")
    @classmethod
    def _gpus_or_tpu(cls, tpu: TpuSpec | None, info: ValidationInfo) -> TpuSpec | None:
        if tpu is not None and info.data.get("gpu"):
            raise ValueError("a learner takes GPUs or a TPU slice, not both")
        return tpu

    @field_validator("machine_type")
    @classmethod
    def _fits_the_node(cls, machine_type: str | None, info: ValidationInfo) -> str | None:
        tpu = info.data.get("tpu")
        shape = SHAPES.get(machine_type) if machine_type else tpu_machine(tpu.accelerator, tpu.topology) if tpu else None
        if shape is None or not {"cpu", "memory", "gpu"} <= info.data.keys():
            return machine_type  # a machine type without a known shape, or an error reported on another field
        check_accelerators_fit(shape, info.data["gpu"], info.data.get("gpu_type"), tpu)
        check_learner_fits(shape, info.data["cpu"], info.data["memory"])
        return machine_type


def check_accelerators_fit(shape: MachineShape, gpu: int, gpu_type: str | None, tpu: TpuSpec | None) -> None:
    """Raise ValueError if a `shape` node does not have the GPUs or the TPU slice the learner asks for."""
    if gpu > shape.gpus or (gpu and gpu_type not in (None, shape.gpu_type)):
        has = f"{shape.gpus} {shape.gpu_type}" if shape.gpus else "no"
        raise ValueError(f"a {shape.name} node has {has} GPUs; the learner asks for {gpu} {gpu_type or ''}".rstrip())
    if tpu is not None and (tpu.accelerator, tpu.topology) != (shape.tpu_accelerator, shape.tpu_topology):
        raise ValueError(f"a {shape.name} node is not a {tpu.accelerator} {tpu.topology} slice")


class ActorResources(SpecModel):
    cpu: CpuQuantity = Field("1", description="CPU request of each actor.")
    memory: MemoryQuantity = Field("2Gi", description="Memory request of each actor.")


class Resources(SpecModel):
    """What the learner and each actor request from a cluster (the local runtime ignores it)."""

    learner: LearnerResources = Field(default_factory=LearnerResources)
    actor: ActorResources = Field(default_factory=ActorResources)


class LearningSpec(SpecModel):
    """What a learner needs to know about an experiment: environment, agent, budget, batching, checkpoints."""

    env: EnvId = Field("gym:CartPole-v1", description="Environment as family:id, e.g. gym:CartPole-v1.")
    env_options: EnvOptions = Field(
        default_factory=EnvOptions, description="Options of the env's family (docs/environments.md); unset keeps its defaults.",
    )
    agent: AgentName = Field(
        "vtrace", description="Learning agent; policy_gradient, ppo, vpg, awr and vmpo are the on-policy agent "
                              "(docs/agents.md).",
    )
    vtrace: VTraceConfig = Field(default_factory=VTraceConfig, description="Hyperparameters of the vtrace agent.")
    r2d2: R2D2Config = Field(default_factory=R2D2Config, description="Hyperparameters of the r2d2 agent (replay, discrete actions).")
    sac: SACConfig = Field(default_factory=SACConfig, description="Hyperparameters of the sac agent (replay, continuous actions).")
    network: NetworkConfig = Field(default_factory=NetworkConfig, description="The agent's network (torso, LSTM core, inputs).")
    policy_gradient: PolicyGradientConfig = Field(
        default_factory=PolicyGradientConfig, validate_default=True,
        description="Options of the on-policy agents; with a preset agent (ppo, vpg, awr, vmpo), unset options "
                    "take the preset's values.",
    )
    total_frames: int = Field(10_000_000, gt=0, le=10**13, description="Stop after this many environment frames.")
    seed: int = Field(0, ge=0, lt=2**31, description="Seed for the learner's and the actors' random numbers.")
    unroll_queue_batches: int = Field(2, ge=1, le=1000, description="Training queue capacity, in train batches (bounds policy lag).")
    inference: InferenceSpec = Field(default_factory=InferenceSpec)
    devices: DevicesSpec = Field(
        default_factory=DevicesSpec, description="Which learner devices serve inference and which train; precision and XLA.",
    )
    checkpoint: CheckpointPolicy = Field(default_factory=CheckpointPolicy)

    @field_validator("env")
    @classmethod
    def _known_env(cls, env: str, info: ValidationInfo) -> str:
        try:
            catalogue_in(info.context).check(env)
        except UnknownEnvError as error:
            raise ValueError(str(error)) from None
        return env

    @field_validator("agent")
    @classmethod
    def _agent_fits_the_env(cls, agent: str, info: ValidationInfo) -> str:
        if "env" not in info.data or "env_options" not in info.data:
            return agent  # reported on the env fields
        kind = catalogue_in(info.context).action_kind(info.data["env"], info.data["env_options"])
        if kind is not None and kind not in ACTION_KINDS[agent]:
            handled = " or ".join(sorted(ACTION_KINDS[agent]))
            raise ValueError(f"the {agent} agent needs {handled} actions; {info.data['env']} has {kind} actions")
        return agent

    @field_validator("policy_gradient")
    @classmethod
    def _on_policy_preset(cls, config: PolicyGradientConfig, info: ValidationInfo) -> PolicyGradientConfig:
        agent = info.data.get("agent")
        if agent not in PRESETS:
            return config
        resolved = resolve(agent, config)
        if "network" in info.data:
            check_network(resolved, info.data["network"].lstm_size)
        return resolved

    @field_validator("env_options")
    @classmethod
    def _options_of_the_family(cls, options: EnvOptions, info: ValidationInfo) -> EnvOptions:
        if "env" in info.data:  # else the env id is invalid, reported on `env`
            check_options(split_env_id(info.data["env"])[0], options)
        return options


MAX_ACTORS = 1024

class ExperimentSpec(LearningSpec):
    """An experiment: one learner, its actors, and what they learn."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "cartpole", "env": "gym:CartPole-v1", "actors": 2, "envs_per_actor": 16,
                                         "total_frames": 3_000_000}]},
    )

    name: ExperimentName = Field(description="DNS-1123 label (lowercase letters, digits and '-'), at most 40 characters.")
    actors: int = Field(2, ge=0, le=MAX_ACTORS, description="Actor processes (pods); 0 keeps the learner up with no actors.")
    eval_envs: int = Field(
        0, ge=0, le=4096,
        description="Evaluation environments, stepped by one extra actor: greedy actions, never trained on, "
                    "their mean return reported apart (seedrl_eval_episode_return_mean).",
    )
    envs_per_actor: int = Field(16, ge=1, le=4096, validate_default=True, description="Environments stepped by each actor.")
    streams_per_actor: int = Field(2, ge=1, le=64, description="Env groups per actor stepped while the others wait (2 = double buffering); at most envs_per_actor are used.")
    resources: Resources = Field(default_factory=Resources)
    resume_from: CheckpointRef | None = Field(
        None, description="Start from this checkpoint: `ckpt-N` of this experiment or `other-experiment/ckpt-N`.",
    )

    # Checked where an experiment comes in, not in the processes its configs are derived for: they
    # run where the operator's allow-list is not set (actor pods) and trust what was admitted.
    @field_validator("env_options")
    @classmethod
    def _level_cache_where_allowed(cls, options: EnvOptions) -> EnvOptions:
        if options.level_cache_dir is not None:
            check_level_cache(options.level_cache_dir, level_cache_roots())
        return options

    @field_validator("envs_per_actor")
    @classmethod
    def _fits_the_slots(cls, envs_per_actor: int, info: ValidationInfo) -> int:
        inference, actors, eval_envs = info.data.get("inference"), info.data.get("actors"), info.data.get("eval_envs")
        if inference is not None and actors is not None and eval_envs is not None:
            check_actor_slots(actors, envs_per_actor, inference.max_slots, eval_envs)
        return envs_per_actor

    @property
    def actor_streams(self) -> int:
        """Streams (env groups) per actor: one env at least in each."""
        return min(self.streams_per_actor, self.envs_per_actor)


def check_actor_slots(actors: int, envs_per_actor: int, max_slots: int, eval_envs: int = 0) -> None:
    """Raise ValueError if the actors' envs plus the evaluation envs need more env slots than the learner leases."""
    needed = actors * envs_per_actor + eval_envs
    if needed > max_slots:
        evaluation = f" + {eval_envs} evaluation envs" if eval_envs else ""
        raise ValueError(
            f"{actors} actors x {envs_per_actor} envs{evaluation} = {needed} env slots, "
            f"more than inference.max_slots ({max_slots})"
        )
