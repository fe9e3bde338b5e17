"""Climate: scenarios, two-layer emulator ensembles, decision problems (no Prefect)."""
