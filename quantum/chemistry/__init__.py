"""Active-space chemistry: Hamiltonians, ansätze, VQE, SQD and the rule that picks between them."""
