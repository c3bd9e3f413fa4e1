"""Learner service: central batched inference, unroll assembly, training, checkpoints."""
