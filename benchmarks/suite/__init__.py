"""The pieces of `python -m benchmarks.run_all`: parts, figures, results, machine facts, plots and the doc."""
