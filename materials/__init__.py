"""Materials: structures, validation, ML surrogate of DFT, stability, fragments (no Prefect)."""
