"""The description of an experiment: `ExperimentSpec` and every config model it is made of.

One layer that every service imports and that imports none of them, nor TensorFlow or Gymnasium:
`experiment` (the spec), `agents`, `vtrace`, `policy_gradient`, `r2d2`, `sac`, `replay`, `network`,
`devices`, `env` (env ids and options), and the process configs derived from a spec (`learner`, `actor`).
"""
