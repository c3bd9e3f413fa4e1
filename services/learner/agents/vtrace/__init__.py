"""IMPALA / V-trace agent."""
