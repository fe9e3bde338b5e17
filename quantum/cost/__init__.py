"""What a quantum segment costs: circuit profiles, their entanglement bounds, the Aer estimates and the cost models."""
