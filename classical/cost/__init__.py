"""Cost models of classical segments, one module per segment kind (no Prefect)."""
