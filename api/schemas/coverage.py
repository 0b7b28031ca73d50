"""Shelter coverage: the township and county table with the city totals and parameters."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from .admin_areas import AdminAreaRow

AnalysisType = Literal["紧急", "固定", "all"]
Mode = Literal["network", "euclidean"]


class CoverageParameters(BaseModel):
    """Everything that changed the answer, and what its columns mean."""

    analysis_type: AnalysisType
    mode: Mode
    mode_label: str = Field(description="The mode in Chinese, e.g. 路网步行时间.")
    walk_kmh: float = Field(description="Walking speed, km/h.")
    reach_min: dict[str, float] = Field(description="Walking minutes a shelter reaches, by shelter type (紧急, 固定, 中心).")
    demand_share: dict[str, float] = Field(description="Share (0-1) of residents each shelter type must hold, by type.")
    area_per_person_m2: float = Field(description="Effective shelter area per person, m² (capacity when the ledger gives none).")
    max_snap_m: float = Field(description="Farthest a cell or shelter may lie from a walkable road, m.")
    demand_share_used: float = Field(description="Share of residents sheltered in this analysis (0-1).")
    definitions: dict[str, str] = Field(description="How a column is computed, by column name.")


class CoverageTotals(BaseModel):
    """The whole city."""

    residents: float = Field(description="常住人口, persons.")
    residents_covered: float = Field(description="Residents within reach of a shelter, persons.")
    residents_uncovered: float = Field(description="Residents beyond reach of every shelter, persons.")
    unplaced_persons: float = Field(description="Demand the capacity-respecting assignment could not place within reach, persons.")
    shelters: int = Field(description="Shelters serving this analysis type.")
    shelters_over_capacity: int = Field(description="Shelters whose load ratio (demand / capacity) exceeds 1.")
    gaps: int = Field(description="Gap polygons (uncovered residents dissolved per township).")


class CoverageAreaRow(AdminAreaRow):
    """One township (乡镇街道) or county (区县)."""

    residents: float = Field(description="常住人口, persons.")
    residents_covered: float = Field(description="覆盖人口, persons.")
    residents_uncovered: float = Field(description="未覆盖人口, persons.")
    covered_pct: float | None = Field(description="覆盖率, % of residents; null without residents.")
    demand_persons: float = Field(description="需避难人数: residents × the demand share, persons.")
    shelters: int = Field(description="Shelters located in the area.")
    capacity_persons: float = Field(description="容纳能力 of those shelters, persons.")
    capacity_shortfall_persons: float = Field(description="容量缺口: max(0, demand − capacity), persons.")
    shelter_area_m2: float = Field(description="有效避难面积, m².")
    shelter_m2_per_resident: float | None = Field(description="人均避难面积, m² per resident; null without residents.")
    unplaced_persons: float = Field(description="无法安置人数, persons.")


class CoverageSummary(BaseModel):
    """``GET /coverage/summary``."""

    type: AnalysisType
    mode: Mode
    parameters: CoverageParameters
    totals: CoverageTotals
    notes: list[str] = Field(description="What was assumed or left out (cells off the road network, …).")
    townships: list[CoverageAreaRow]
    counties: list[CoverageAreaRow]
