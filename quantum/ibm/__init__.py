"""IBM Quantum jobs: Runtime backends and primitives, finding jobs again, and the journal that makes a rerun re-attach."""
