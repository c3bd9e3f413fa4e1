"""Local launch: `seedrl train` runs a learner and its actors as processes on this machine."""
