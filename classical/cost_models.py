"""Cost models of classical segments by kind: time, memory, cost and energy per resource and run option (no
Prefect). `broker.cost_models.cost_model_for` finds a segment's model here by its `kind`.

One module per kind under `classical.cost`: ML-potential batches (`ml_potential_cost_model`), climate ensembles
(`climate_cost_model`), SQD's subspace diagonalizations (`subspace_cost_model`); what they share (executor
overheads, the speed of parallel workers on a loaded machine, the Estimate they build) is `classical.cost.executors`.
"""

from __future__ import annotations

from typing import Any

from classical.cost.climate_cost_model import ClimateEnsembleCostModel
from classical.cost.ml_potential_cost_model import MLPotentialCostModel
from classical.cost.subspace_cost_model import SubspaceDiagonalizationCostModel

CLASSICAL_COST_MODELS: dict[str, Any] = {
    MLPotentialCostModel.kind: MLPotentialCostModel(),
    ClimateEnsembleCostModel.kind: ClimateEnsembleCostModel(),
    SubspaceDiagonalizationCostModel.kind: SubspaceDiagonalizationCostModel(),
}
