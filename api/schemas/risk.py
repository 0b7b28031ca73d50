"""Risk zoning: the per-area table with the parameters, and the score at a point.

Levels (等级): 低 low (blue), 一般 general (yellow), 较大 significant (orange), 重大 major (red).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .admin_areas import AdminAreaRow

Level = Literal["低", "一般", "较大", "重大"]


class RiskDecay(BaseModel):
    """How a point source's hazard falls off with distance (``kind`` says which fields apply)."""

    model_config = ConfigDict(extra="allow")  # a risk config may add its own parameters
    kind: Literal["exp", "linear", "bands"] = Field(description="exp: exp(−d / scale_m) up to max_m; linear: 1 − d / radius_m; bands: (distance m, multiplier) steps.")
    scale_m: float | None = Field(default=None, description="exp: distance scale, m.")
    max_m: float | None = Field(default=None, description="exp: zero beyond, m.")
    radius_m: float | None = Field(default=None, description="linear: zero beyond, m.")
    bands: list[list[float]] | None = Field(default=None, description="bands: [distance m, multiplier 0-1] pairs.")


class RiskFactor(BaseModel):
    """One hazard factor's parameters (defaults, overridden by ONEMAP_RISK_CONFIG)."""

    model_config = ConfigDict(extra="allow")  # overrides in the config are merged in as given
    kind: str = Field(description="points, polygons or dem.")
    class_field: str | None = Field(default=None, description="The layer field whose class gives a source its intensity.")
    intensity: dict[str, float] | None = Field(default=None, description="Intensity 0-1 of each class value.")
    decay: RiskDecay | None = None
    alert_multiplier: float | None = Field(default=None, description="Reservoirs above their flood-limit level count this many times more (capped at 1).")
    max_slope_deg: float | None = Field(default=None, description="dem: slope, degrees, at which the factor reaches 1.")


class AhpSummary(BaseModel):
    """The weights from an AHP pairwise matrix, and its consistency."""

    weights: dict[str, float] = Field(description="Weight of each factor, summing to 1.")
    lambda_max: float
    consistency_index: float = Field(description="CI = (λmax − n) / (n − 1).")
    consistency_ratio: float = Field(description="CR = CI / RI; below 0.1 is consistent.")


class RiskParameters(BaseModel):
    """Everything that changed the zoning."""

    factors: dict[str, RiskFactor] = Field(description="Parameters of each hazard factor, by factor name.")
    weights: dict[str, float] = Field(description="Weight (≥ 0) of each factor and of capacity.")
    ahp: AhpSummary | None = Field(description="null when the weights were given directly.")
    classification: Literal["fixed", "quantiles", "natural"] = Field(description="How the score is cut into the four levels.")
    breaks: list[float] = Field(description="The three score breaks of fixed classification.")
    exposure_ref_per_km2: float = Field(description="Residents per km² at which exposure reaches 1.")
    capacity_ref_min: float = Field(description="Minutes to the nearest rescue station at which lack of capacity reaches 1.")
    straight_line_kmh: float = Field(description="Speed, km/h, that turns a straight-line distance into minutes without a road network.")
    vulnerability: float = Field(description="Vulnerability V, 0-1.")
    formula: str
    resolution_m: float = Field(description="Grid cell size, m.")
    epsg: int = Field(description="Work CRS of the grid (metric).")
    capacity_mode: Literal["network", "euclidean"]
    capacity_label: str = Field(description="The capacity mode in Chinese.")
    upper_breaks: list[float] = Field(description="The upper scores of 低, 一般 and 较大 as classified.")
    levels: dict[str, Level] = Field(description="Level of each raster code (1-4; 0 is nodata).")
    factors_used: list[str] = Field(description="Factors with data in this zoning.")
    notes: list[str] = Field(description="What was assumed or skipped.")


class LevelTotal(BaseModel):
    area_km2: float = Field(ge=0, description="Area, km².")
    residents: float = Field(ge=0, description="Residents, persons.")


class RiskLevelTotals(BaseModel):
    """The whole zoned area, by level."""

    low: LevelTotal = Field(alias="低")
    general: LevelTotal = Field(alias="一般")
    significant: LevelTotal = Field(alias="较大")
    major: LevelTotal = Field(alias="重大")


class RiskAreaRow(AdminAreaRow):
    """One county (区县) or township (乡镇街道): km² and residents in each level."""

    area_km2_low: float = Field(alias="area_km2_低", description="Area at 低, km².")
    residents_low: float = Field(alias="residents_低", description="Residents at 低, persons.")
    area_km2_general: float = Field(alias="area_km2_一般", description="Area at 一般, km².")
    residents_general: float = Field(alias="residents_一般", description="Residents at 一般, persons.")
    area_km2_significant: float = Field(alias="area_km2_较大", description="Area at 较大, km².")
    residents_significant: float = Field(alias="residents_较大", description="Residents at 较大, persons.")
    area_km2_major: float = Field(alias="area_km2_重大", description="Area at 重大, km².")
    residents_major: float = Field(alias="residents_重大", description="Residents at 重大, persons.")
    top_hazards: str = Field(description="Up to three factors contributing most to the area's summed score, joined by 、.")


class RiskSummary(BaseModel):
    """``GET /risk/summary``."""

    parameters: RiskParameters
    totals: RiskLevelTotals
    counties: list[RiskAreaRow]
    townships: list[RiskAreaRow]


class RiskAt(BaseModel):
    """``GET /risk/at``: the zoning in the grid cell holding the point."""

    lon: float = Field(description="Longitude, degrees (WGS 84).")
    lat: float = Field(description="Latitude, degrees (WGS 84).")
    score: float = Field(description="Risk score, 0-1.")
    level_code: int = Field(ge=1, le=4, description="1 低, 2 一般, 3 较大, 4 重大.")
    level: Level
    colour: str = Field(description="The level's official colour, #RRGGBB.")
    contributions: dict[str, float] = Field(description="Each factor's part of the score, by factor name (and capacity).")
    hazards: dict[str, float] = Field(description="Each hazard factor's surface value here, 0-1, by factor name.")
    residents_in_cell: float = Field(description="Residents in the cell, persons.")
    minutes_to_rescue: float | None = Field(description="Minutes to the nearest rescue station; null when none is reachable.")
    cell_m: float = Field(description="Grid cell size, m.")
