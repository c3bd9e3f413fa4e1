"""SAC: soft actor-critic (Haarnoja et al. 2018) with twin critics and a learned temperature."""
