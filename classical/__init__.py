"""Classical execution layer: batching and executors for classical segments (no Prefect)."""
