"""seedrl: SEED RL as a set of services (learner, actor, controller)."""

__version__ = "0.1.0"
