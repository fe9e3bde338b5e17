"""The resource broker: segments, resources, placements, records and fallback (no Prefect)."""
