"""Selection problems: QUBOs, their exact brute-force minimum, and QAOA on primitives V2."""
