"""Actor service: steps a batch of environments and streams them to the learner (no TensorFlow)."""
