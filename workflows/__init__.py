"""Prefect layer: flows, tasks, deployments, the broker and catalog glue, artifacts, the qcflow command."""
