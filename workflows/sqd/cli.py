"""`qcflow sqd`: run the active-space-sqd flow on the embedded Prefect API, print a summary, write JSON; with
--plan, print where its segments would run and exit."""

from __future__ import annotations

import sys

from workflows.cli import FlowCommand, flow_command_main

SQD = FlowCommand(
    name="sqd",
    help="sample-based quantum diagonalization of a molecule's active space (or an FCIDUMP file)",
    description="Give a molecule (--atom with --basis, ...) or --fcidump FILE, not both.",
    flow="workflows.sqd.flow:active_space_sqd",
    parameters="workflows.sqd.flow:SQDParameters",
    planner="workflows.sqd.flow:sqd_plan",
    report="workflows.sqd.flow:summary_markdown",
    metavars={"fcidump": "FILE", "active_orbitals": "K", "active_electrons": "M"},
    result_storage=False,
)

if __name__ == "__main__":
    sys.exit(flow_command_main(SQD))
