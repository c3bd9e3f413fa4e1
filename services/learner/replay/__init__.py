"""Prioritized replay on the learner, shared by the replay agents (R2D2, SAC).

Replay is not checkpointed (SEED does not either): a restarted learner refills it to
`min_fill` from fresh acting before it trains again (docs/agents.md). Its options are
`seedrl.spec.replay.ReplayConfig`.
"""
