"""Wire protocol v1: generated from protos/seedrl/v1 by protos/generate.py (do not edit)."""
