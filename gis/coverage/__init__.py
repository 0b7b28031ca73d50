"""Shelter coverage: who can walk to a shelter in time, where shelters are too small, who cannot be
placed, and where new shelters would cover the most people. Pure functions on frames and arrays."""

from .analysis import CoverageResult, SitingResult, analyse_coverage, site_shelters
from .assignment import Assignment, assign_evacuees
from .cells import PopulationChunks
from .gaps import area_table, gap_polygons, nearest_within_reach, shelter_load, two_step_fca
from .params import (
    ANALYSIS_TYPES,
    SHELTER_TYPES,
    CoverageInputError,
    CoverageParams,
    serving_shelters,
)
from .reach import MODE_LABELS, MODES, Reach, euclidean_reach, network_reach
from .siting import SitingSolution, candidates_in_gaps, cover_matrix, maximal_covering, set_covering

__all__ = [
    "ANALYSIS_TYPES",
    "MODES",
    "MODE_LABELS",
    "SHELTER_TYPES",
    "Assignment",
    "CoverageInputError",
    "CoverageParams",
    "CoverageResult",
    "PopulationChunks",
    "Reach",
    "SitingResult",
    "SitingSolution",
    "analyse_coverage",
    "area_table",
    "assign_evacuees",
    "candidates_in_gaps",
    "cover_matrix",
    "euclidean_reach",
    "gap_polygons",
    "maximal_covering",
    "nearest_within_reach",
    "network_reach",
    "serving_shelters",
    "set_covering",
    "shelter_load",
    "site_shelters",
    "two_step_fca",
]
