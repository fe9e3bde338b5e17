"""Quantum execution layer: Hamiltonians, ansatze, algorithms, circuit profiles, executors (no Prefect)."""
