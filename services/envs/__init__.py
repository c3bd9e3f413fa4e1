"""Environments by name (`family:id`), batches of them with same-step autoreset, and their specs.

A library below the services: actors step env batches, and the learner, the evaluator and the
exporter ask an env's spec (`seedrl.envs.describe`). Family packages load only when used.
"""
