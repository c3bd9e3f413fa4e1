"""The learner's devices: which serve inference and which train, and running training across replicas."""
