"""Control plane (REST API and runtimes)."""
