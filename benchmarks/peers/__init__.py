"""Peers: other RL systems, run on the same machine in the same run as seedrl, each in its own virtualenv."""
