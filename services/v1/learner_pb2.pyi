from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Tensor(_message.Message):
    __slots__ = ("dtype", "shape", "data")
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    dtype: str
    shape: _containers.RepeatedScalarFieldContainer[int]
    data: bytes
    def __init__(self, dtype: _Optional[str] = ..., shape: _Optional[_Iterable[int]] = ..., data: _Optional[bytes] = ...) -> None: ...

class BoxSpace(_message.Message):
    __slots__ = ("shape", "dtype", "low", "high")
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    LOW_FIELD_NUMBER: _ClassVar[int]
    HIGH_FIELD_NUMBER: _ClassVar[int]
    shape: _containers.RepeatedScalarFieldContainer[int]
    dtype: str
    low: Tensor
    high: Tensor
    def __init__(self, shape: _Optional[_Iterable[int]] = ..., dtype: _Optional[str] = ..., low: _Optional[_Union[Tensor, _Mapping]] = ..., high: _Optional[_Union[Tensor, _Mapping]] = ...) -> None: ...

class DiscreteSpace(_message.Message):
    __slots__ = ("n", "start")
    N_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    n: int
    start: int
    def __init__(self, n: _Optional[int] = ..., start: _Optional[int] = ...) -> None: ...

class Space(_message.Message):
    __slots__ = ("box", "discrete")
    BOX_FIELD_NUMBER: _ClassVar[int]
    DISCRETE_FIELD_NUMBER: _ClassVar[int]
    box: BoxSpace
    discrete: DiscreteSpace
    def __init__(self, box: _Optional[_Union[BoxSpace, _Mapping]] = ..., discrete: _Optional[_Union[DiscreteSpace, _Mapping]] = ...) -> None: ...

class EnvSpec(_message.Message):
    __slots__ = ("env_id", "observation_space", "action_space", "frames_per_step")
    ENV_ID_FIELD_NUMBER: _ClassVar[int]
    OBSERVATION_SPACE_FIELD_NUMBER: _ClassVar[int]
    ACTION_SPACE_FIELD_NUMBER: _ClassVar[int]
    FRAMES_PER_STEP_FIELD_NUMBER: _ClassVar[int]
    env_id: str
    observation_space: Space
    action_space: Space
    frames_per_step: int
    def __init__(self, env_id: _Optional[str] = ..., observation_space: _Optional[_Union[Space, _Mapping]] = ..., action_space: _Optional[_Union[Space, _Mapping]] = ..., frames_per_step: _Optional[int] = ...) -> None: ...

class Hello(_message.Message):
    __slots__ = ("actor_id", "run_id", "num_envs", "env_spec", "evaluation")
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    NUM_ENVS_FIELD_NUMBER: _ClassVar[int]
    ENV_SPEC_FIELD_NUMBER: _ClassVar[int]
    EVALUATION_FIELD_NUMBER: _ClassVar[int]
    actor_id: str
    run_id: int
    num_envs: int
    env_spec: EnvSpec
    evaluation: bool
    def __init__(self, actor_id: _Optional[str] = ..., run_id: _Optional[int] = ..., num_envs: _Optional[int] = ..., env_spec: _Optional[_Union[EnvSpec, _Mapping]] = ..., evaluation: _Optional[bool] = ...) -> None: ...

class Welcome(_message.Message):
    __slots__ = ("num_slots", "experiment", "learner_steps")
    NUM_SLOTS_FIELD_NUMBER: _ClassVar[int]
    EXPERIMENT_FIELD_NUMBER: _ClassVar[int]
    LEARNER_STEPS_FIELD_NUMBER: _ClassVar[int]
    num_slots: int
    experiment: str
    learner_steps: int
    def __init__(self, num_slots: _Optional[int] = ..., experiment: _Optional[str] = ..., learner_steps: _Optional[int] = ...) -> None: ...

class StepBatch(_message.Message):
    __slots__ = ("run_id", "rewards", "terminated", "truncated", "observations", "final_indices", "final_observations")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    REWARDS_FIELD_NUMBER: _ClassVar[int]
    TERMINATED_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    OBSERVATIONS_FIELD_NUMBER: _ClassVar[int]
    FINAL_INDICES_FIELD_NUMBER: _ClassVar[int]
    FINAL_OBSERVATIONS_FIELD_NUMBER: _ClassVar[int]
    run_id: int
    rewards: Tensor
    terminated: Tensor
    truncated: Tensor
    observations: Tensor
    final_indices: Tensor
    final_observations: Tensor
    def __init__(self, run_id: _Optional[int] = ..., rewards: _Optional[_Union[Tensor, _Mapping]] = ..., terminated: _Optional[_Union[Tensor, _Mapping]] = ..., truncated: _Optional[_Union[Tensor, _Mapping]] = ..., observations: _Optional[_Union[Tensor, _Mapping]] = ..., final_indices: _Optional[_Union[Tensor, _Mapping]] = ..., final_observations: _Optional[_Union[Tensor, _Mapping]] = ...) -> None: ...

class ActionBatch(_message.Message):
    __slots__ = ("actions",)
    ACTIONS_FIELD_NUMBER: _ClassVar[int]
    actions: Tensor
    def __init__(self, actions: _Optional[_Union[Tensor, _Mapping]] = ...) -> None: ...

class ActorMessage(_message.Message):
    __slots__ = ("hello", "step")
    HELLO_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    hello: Hello
    step: StepBatch
    def __init__(self, hello: _Optional[_Union[Hello, _Mapping]] = ..., step: _Optional[_Union[StepBatch, _Mapping]] = ...) -> None: ...

class LearnerMessage(_message.Message):
    __slots__ = ("welcome", "actions")
    WELCOME_FIELD_NUMBER: _ClassVar[int]
    ACTIONS_FIELD_NUMBER: _ClassVar[int]
    welcome: Welcome
    actions: ActionBatch
    def __init__(self, welcome: _Optional[_Union[Welcome, _Mapping]] = ..., actions: _Optional[_Union[ActionBatch, _Mapping]] = ...) -> None: ...

class StatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class LearnerStatus(_message.Message):
    __slots__ = ("experiment", "frames", "learner_steps", "episodes", "mean_return_100", "fps", "connected_streams", "leased_slots", "last_checkpoint_step", "done", "mean_episode_length_100", "end_reason", "end_message")
    EXPERIMENT_FIELD_NUMBER: _ClassVar[int]
    FRAMES_FIELD_NUMBER: _ClassVar[int]
    LEARNER_STEPS_FIELD_NUMBER: _ClassVar[int]
    EPISODES_FIELD_NUMBER: _ClassVar[int]
    MEAN_RETURN_100_FIELD_NUMBER: _ClassVar[int]
    FPS_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_STREAMS_FIELD_NUMBER: _ClassVar[int]
    LEASED_SLOTS_FIELD_NUMBER: _ClassVar[int]
    LAST_CHECKPOINT_STEP_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    MEAN_EPISODE_LENGTH_100_FIELD_NUMBER: _ClassVar[int]
    END_REASON_FIELD_NUMBER: _ClassVar[int]
    END_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    experiment: str
    frames: int
    learner_steps: int
    episodes: int
    mean_return_100: float
    fps: float
    connected_streams: int
    leased_slots: int
    last_checkpoint_step: int
    done: bool
    mean_episode_length_100: float
    end_reason: str
    end_message: str
    def __init__(self, experiment: _Optional[str] = ..., frames: _Optional[int] = ..., learner_steps: _Optional[int] = ..., episodes: _Optional[int] = ..., mean_return_100: _Optional[float] = ..., fps: _Optional[float] = ..., connected_streams: _Optional[int] = ..., leased_slots: _Optional[int] = ..., last_checkpoint_step: _Optional[int] = ..., done: _Optional[bool] = ..., mean_episode_length_100: _Optional[float] = ..., end_reason: _Optional[str] = ..., end_message: _Optional[str] = ...) -> None: ...
