"""Pieces every service shares: tensor codec, env specs, metrics catalogue, CLI flags."""
