"""The materials-screening flow: its stages (surrogate, references, quantum refinement), tasks, reports and artifacts."""
