"""qcflow configuration: one settings object read from QCFLOW_* environment variables (no Prefect)."""
