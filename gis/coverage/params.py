"""Coverage parameters and the shelters that serve one kind of analysis, with their capacity."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import geopandas as gpd
import numpy as np

from ..network import WALK_SPEED_KMH

SHELTER_TYPES = ("紧急", "固定", "中心")
"""Shelter types (GB 51143-2015), lowest first: a shelter also serves every lower type."""
ANALYSIS_TYPES = ("紧急", "固定", "all")
"""``紧急``: every shelter as an emergency shelter; ``固定``: fixed and central shelters; ``all``:
every shelter with its own type's reach."""

DEFAULT_REACH_MIN: Mapping[str, float] = MappingProxyType({"紧急": 10.0, "固定": 35.0, "中心": 60.0})
"""Walking minutes a shelter of each type must be within (GB 51143: emergency ≈ 500 m / 10 min,
fixed 2–3 km ≈ 35 min at 4.5 km/h, central ≈ 4.5 km ≈ 60 min)."""
DEFAULT_DEMAND_SHARE: Mapping[str, float] = MappingProxyType({"紧急": 1.0, "固定": 0.3, "中心": 0.3})
"""Share of residents each type must hold (fixed shelters: 15–30 % of residents; emergency: all)."""


class CoverageInputError(ValueError):
    """Input the coverage analysis cannot use; the message names the feature and what to do."""


@dataclass(frozen=True)
class CoverageParams:
    """Everything that changes a coverage answer. Units: km/h, minutes, m², shares 0–1."""

    walk_kmh: float = WALK_SPEED_KMH
    reach_min: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_REACH_MIN))
    demand_share: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_DEMAND_SHARE))
    area_per_person_m2: float = 1.5
    max_snap_m: float = 2000.0

    def __post_init__(self) -> None:
        if not self.walk_kmh > 0:
            raise CoverageInputError(f"walking speed must be positive, got {self.walk_kmh} km/h")
        for kind in SHELTER_TYPES:
            if not self.reach_min.get(kind, 0) > 0:
                raise CoverageInputError(f"reach for {kind} shelters must be a positive number of minutes, got {self.reach_min.get(kind)}")
            if not 0 < self.demand_share.get(kind, 0) <= 1:
                raise CoverageInputError(f"demand share for {kind} shelters must be in (0, 1], got {self.demand_share.get(kind)}")
        if not self.area_per_person_m2 > 0:
            raise CoverageInputError(f"area per person must be positive, got {self.area_per_person_m2} m²")

    def share(self, analysis_type: str) -> float:
        """Share of residents to shelter: the type's, or the emergency share for ``all``."""
        return float(self.demand_share["紧急" if analysis_type == "all" else analysis_type])

    def as_dict(self) -> dict[str, object]:
        return {
            "walk_kmh": self.walk_kmh,
            "reach_min": dict(self.reach_min),
            "demand_share": dict(self.demand_share),
            "area_per_person_m2": self.area_per_person_m2,
            "max_snap_m": self.max_snap_m,
        }


def check_analysis_type(analysis_type: str) -> str:
    if analysis_type not in ANALYSIS_TYPES:
        raise CoverageInputError(f"type must be one of {', '.join(ANALYSIS_TYPES)}, got {analysis_type!r}")
    return analysis_type


def serving_shelters(shelters: gpd.GeoDataFrame, analysis_type: str, params: CoverageParams, *, label: str = "shelters") -> gpd.GeoDataFrame:
    """The shelters serving ``analysis_type``, with ``capacity`` (persons), ``area_m2`` and
    ``reach_min`` columns; the original row order is kept (index reset).

    Capacity: the ledger's ``capacity_persons`` when given, else ``effective_area_m2`` / area per
    person. A serving shelter with neither, or with zero, is an error naming it.
    """
    check_analysis_type(analysis_type)
    if shelters.empty:
        raise CoverageInputError(f"{label}: there are no shelters: import the shelter ledger (onemap import shelters FILE) or run onemap sample")
    if "shelter_type" not in shelters:
        raise CoverageInputError(f"{label}: no shelter_type column (紧急/固定/中心)")
    unknown = shelters.loc[~shelters["shelter_type"].isin(SHELTER_TYPES)]
    if not unknown.empty:
        raise CoverageInputError(f"{label}: {_describe(unknown)} has shelter_type {unknown['shelter_type'].iloc[0]!r}; use 紧急, 固定 or 中心")
    lowest = 0 if analysis_type == "all" else SHELTER_TYPES.index(analysis_type)
    rank = shelters["shelter_type"].map(SHELTER_TYPES.index)
    serving = shelters.loc[rank >= lowest].reset_index(drop=True)
    if serving.empty:
        raise CoverageInputError(f"{label}: no shelter of type {analysis_type} or higher; choose --type 紧急 or import {analysis_type} shelters")
    given = _numbers(serving, "capacity_persons")
    area = _numbers(serving, "effective_area_m2")
    capacity = np.where(np.isfinite(given), given, area / params.area_per_person_m2)
    bad = ~(np.isfinite(capacity) & (capacity > 0))
    if bad.any():
        raise CoverageInputError(
            f"{label}: {bad.sum()} shelter(s) without a usable capacity (容纳人数 missing or 0, and no 有效避难面积), e.g. "
            f"{_describe(serving.loc[bad])}: give capacity_persons or effective_area_m2 in the ledger and import it again"
        )
    serving["capacity"] = capacity
    serving["area_m2"] = np.where(np.isfinite(area), area, capacity * params.area_per_person_m2)
    if analysis_type == "all":
        serving["reach_min"] = serving["shelter_type"].map(params.reach_min).astype(float)
    else:
        serving["reach_min"] = float(params.reach_min[analysis_type])
    return serving


def _numbers(frame: gpd.GeoDataFrame, column: str) -> np.ndarray:
    if column not in frame:
        return np.full(len(frame), np.nan)
    return frame[column].astype("Float64").to_numpy(dtype=float, na_value=np.nan)


def _describe(rows: gpd.GeoDataFrame) -> str:
    first = rows.iloc[0]
    ident = first.get("source_id", rows.index[0])
    name = first.get("name")
    return f"shelter {ident}" + (f" ({name})" if isinstance(name, str) and name else "")
