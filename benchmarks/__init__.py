"""Benchmarks: one command each (see the Makefile); results are recorded in docs/benchmarks.md."""
