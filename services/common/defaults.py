"""Defaults that more than one service must agree on."""

LEARNER_PORT = 8686
# Largest gRPC message either side accepts. A StepBatch of 64 Atari envs (84x84x4 uint8)
# is ~1.8 MB; the default leaves room for bigger batches without allowing abuse.
MAX_MESSAGE_MB = 16.0
# An actor exits with this code when the learner refuses it for good (restarting cannot help).
ACTOR_REFUSED_EXIT_CODE = 3
# A stream whose actor sends nothing for this long is ended and its env slots reclaimed. It must
# exceed the slowest env step or reset (a DeepMind Lab level compiles in under a minute).
STREAM_IDLE_TIMEOUT_S = 120.0
# A stream must say Hello this soon after it opens (actors make their envs before they connect).
HELLO_TIMEOUT_S = 30.0
# The environment variable that holds the controller's API bearer token (the server's and the CLI's).
API_TOKEN_ENV = "SEEDRL_API_TOKEN"
