"""The configurable on-policy agent: VPG, PPO, V-trace, AWR and V-MPO policy losses over GAE,
V-trace or n-step advantages (SEED RL's policy-gradient agent)."""
