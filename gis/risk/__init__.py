"""Risk zoning: hazard × exposure − capacity on a grid, graded into the four national levels.

So far: factor weights from an AHP pairwise-comparison matrix with its consistency check
(``ahp``) and the grid model — hazard surfaces, exposure, capacity, combination, the four levels
(``model``). Reading the store, outputs and surfaces follow (issue 5)."""

from .ahp import CR_LIMIT, AhpError, AhpResult, ahp_weights, require_consistent
from .model import (
    DEFAULT_WEIGHTS,
    FACTOR_DEFAULTS,
    FORMULA,
    LEVEL_CODES,
    RiskGrid,
    RiskInputError,
    classify,
    combine,
    decay,
    exposure,
    lack_of_capacity,
    level_breaks,
    point_distance,
    point_surface,
)

__all__ = [
    "CR_LIMIT", "DEFAULT_WEIGHTS", "FACTOR_DEFAULTS", "FORMULA", "LEVEL_CODES", "AhpError", "AhpResult", "RiskGrid",
    "RiskInputError", "ahp_weights", "classify", "combine", "decay", "exposure", "lack_of_capacity", "level_breaks",
    "point_distance", "point_surface", "require_consistent",
]
