"""Shared test setup: quiet TensorFlow, and the `integration` marker for real processes."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
