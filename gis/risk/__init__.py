"""Risk zoning: hazard × exposure − capacity on a grid, graded into the four national levels.

So far: factor weights from an AHP pairwise-comparison matrix with its consistency check
(``ahp``). The grid model, outputs and surfaces follow (issue 5)."""

from .ahp import CR_LIMIT, AhpError, AhpResult, ahp_weights, require_consistent

__all__ = ["CR_LIMIT", "AhpError", "AhpResult", "ahp_weights", "require_consistent"]
