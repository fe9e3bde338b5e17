"""`qcflow climate`: run the climate-pathways flow on the embedded Prefect API, print a report, write JSON."""

from __future__ import annotations

import sys

from workflows.cli import FlowCommand, flow_command_main
from workflows.terminal import seed_argument

CLIMATE = FlowCommand(
    name="climate",
    help="project warming per scenario and choose a carbon-removal portfolio with QAOA",
    flow="workflows.climate_pathways.flow:climate_pathways",
    parameters="workflows.climate_pathways.flow:ClimateParameters",
    planner="workflows.execution.plans:climate_plan",
    report="workflows.climate_pathways.report:terminal_report",
    renamed={"scenarios": "--scenario", "options": "--option", "qaoa_layers": "--layers"},
    types={"seed": seed_argument},
)

if __name__ == "__main__":
    sys.exit(flow_command_main(CLIMATE))
