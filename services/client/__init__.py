"""Command-line client of the controller's REST API: `seedrl experiments ...` and `seedrl checkpoints ...`."""
