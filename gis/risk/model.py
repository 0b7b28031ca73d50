"""The risk model on a grid: hazard surfaces, exposure, capacity, their combination and the four levels.

All arrays are (rows, cols) over a ``RiskGrid`` in a metric CRS, row 0 at the north edge.

Hazard factors, each 0–1 (parameters in ``FACTOR_DEFAULTS``, editable in the config):
- point sources (reservoirs, geohazard points, chemical parks, hazardous enterprises): each source
  has an intensity from its class (reservoir scale, danger grade, park grade A–D, risk level); a
  reservoir above its flood-limit level counts ``alert_multiplier`` times more (capped at 1). The
  surface is the largest ``intensity × decay(distance)`` over the sources, with decay ``exp``
  (exp(−d / scale), zero beyond ``max_m``), ``linear`` (1 − d / radius, zero beyond) or ``bands``
  ((distance, multiplier) steps). Distances are between cell centres, exact; each source stamps a
  precomputed kernel out to the decay's reach (``point_surface``);
- polygons (flash-flood-prone, waterlogging, flood-storage areas): the intensity of the class of
  the polygon covering the cell centre (the largest where several overlap). The class intensities
  are for ordinary weather, below 1: while a rain gauge within ``rain.radius_m`` of an area is in
  a rainstorm warning, the area's intensity is raised by that colour's ``rain.multipliers`` (红
  brings a 山洪灾害易发区 to 1; ``gis.risk.live``);
- slope, when a DEM is given: min(1, slope° / ``max_slope_deg``), the DEM resampled (bilinear) onto
  the grid in any CRS.

Combination (stored in the outputs' metadata as ``FORMULA``):

    score = E × V × (Σ_k w_k · h_k + w_c · C) / (Σ_k w_k + w_c)

with E = exposure = min(1, log(1 + persons per cell) / log(1 + ``exposure_ref_persons``)), V =
vulnerability (0–1, default 1), C = lack of response capacity = min(1, minutes to the nearest
rescue station / ``capacity_ref_min``), and weights w ≥ 0 from the config or an AHP matrix. So:
adding a hazard never lowers a score, a cell without residents scores 0 (the lowest level), and
scaling every weight by the same factor changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from rasterio.transform import Affine

FORMULA = "score = E × V × (Σ_k w_k·h_k + w_c·C) / (Σ_k w_k + w_c); E = min(1, ln(1+persons)/ln(1+E_ref)); C = min(1, minutes_to_rescue/C_ref)"
LEVEL_CODES = {1: "低", 2: "一般", 3: "较大", 4: "重大"}
"""Level raster codes: 1 = 低 blue, 2 = 一般 yellow, 3 = 较大 orange, 4 = 重大 red; 0 = nodata."""
NODATA = 0
BLOCK_CELLS = 4_000_000
"""Cells per block of rows: working memory (distance transforms, rasterising, float64 temporaries)
is bounded by a block, whatever the grid's size."""

FACTOR_DEFAULTS: dict[str, dict[str, Any]] = {
    "reservoirs": {
        "kind": "points", "class_field": "reservoir_class",
        "intensity": {"大(1)型": 1.0, "大(2)型": 0.85, "中型": 0.65, "小(1)型": 0.45, "小(2)型": 0.3},
        "decay": {"kind": "exp", "scale_m": 2000.0, "max_m": 10000.0}, "alert_multiplier": 1.5,
    },
    "geohazard_points": {
        "kind": "points", "class_field": "danger_grade",
        "intensity": {"特大型": 1.0, "大型": 0.8, "中型": 0.6, "小型": 0.4},
        "decay": {"kind": "linear", "radius_m": 500.0},
    },
    "chemical_parks": {
        "kind": "points", "class_field": "risk_grade",
        "intensity": {"A": 1.0, "B": 0.8, "C": 0.6, "D": 0.4},
        "decay": {"kind": "bands", "bands": [[1000.0, 1.0], [2000.0, 0.6], [5000.0, 0.3]]},
    },
    "hazardous_enterprises": {
        "kind": "points", "class_field": "risk_level",
        "intensity": {"重大": 1.0, "较大": 0.75, "一般": 0.5, "低": 0.25},
        "decay": {"kind": "bands", "bands": [[500.0, 1.0], [1000.0, 0.6], [2000.0, 0.3]]},
    },
    "flood_prone_areas": {
        "kind": "polygons", "class_field": "kind",
        "intensity": {"山洪灾害易发区": 0.8, "蓄滞洪区": 0.7, "易涝区": 0.6},
        "rain": {"radius_m": 5000.0, "multipliers": {"蓝": 1.1, "黄": 1.15, "橙": 1.2, "红": 1.25}},
    },
    "slope": {"kind": "dem", "max_slope_deg": 30.0},
}
DEFAULT_WEIGHTS = {"reservoirs": 0.25, "geohazard_points": 0.15, "chemical_parks": 0.15, "hazardous_enterprises": 0.15, "flood_prone_areas": 0.2, "slope": 0.1, "capacity": 0.1}


class RiskInputError(ValueError):
    """Input the risk model cannot use; the message says what and why."""


@dataclass(frozen=True)
class RiskGrid:
    """A north-up grid: ``width`` × ``height`` square cells of ``resolution_m`` in ``epsg``."""

    epsg: int
    resolution_m: float
    west: float
    north: float
    width: int
    height: int

    @classmethod
    def covering(cls, bounds: Sequence[float], resolution_m: float, epsg: int) -> RiskGrid:
        """The grid aligned to multiples of ``resolution_m`` that covers ``bounds`` (metres)."""
        if not resolution_m > 0:
            raise RiskInputError(f"resolution must be positive metres, got {resolution_m}")
        min_x, min_y, max_x, max_y = bounds
        west, south = np.floor(min_x / resolution_m) * resolution_m, np.floor(min_y / resolution_m) * resolution_m
        east, north = np.ceil(max_x / resolution_m) * resolution_m, np.ceil(max_y / resolution_m) * resolution_m
        return cls(epsg, float(resolution_m), float(west), float(north), int(round((east - west) / resolution_m)), int(round((north - south) / resolution_m)))

    def rows(self, start: int, stop: int) -> RiskGrid:
        """The grid of rows ``start`` to ``stop`` (exclusive), same columns."""
        return RiskGrid(self.epsg, self.resolution_m, self.west, self.north - start * self.resolution_m, self.width, stop - start)

    def window(self, r0: int, r1: int, c0: int, c1: int) -> RiskGrid:
        """The grid of rows ``r0`` to ``r1`` and columns ``c0`` to ``c1`` (exclusive)."""
        return RiskGrid(self.epsg, self.resolution_m, self.west + c0 * self.resolution_m, self.north - r0 * self.resolution_m, c1 - c0, r1 - r0)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.height, self.width)

    def rows_per_block(self) -> int:
        """Rows of a block of about ``BLOCK_CELLS`` cells (at least one)."""
        return max(1, BLOCK_CELLS // max(self.width, 1))

    @property
    def transform(self) -> Affine:
        return Affine(self.resolution_m, 0.0, self.west, 0.0, -self.resolution_m, self.north)

    def cell_of(self, xy: NDArray[np.float64]) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.bool_]]:
        """Row and column of the cell holding each point, and whether it is on the grid."""
        col = np.floor((xy[:, 0] - self.west) / self.resolution_m).astype(np.int64)
        row = np.floor((self.north - xy[:, 1]) / self.resolution_m).astype(np.int64)
        inside = (row >= 0) & (row < self.height) & (col >= 0) & (col < self.width)
        return row, col, inside

    def centres(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """x of each column's and y of each row's cell centres."""
        half = self.resolution_m / 2
        xs = self.west + half + self.resolution_m * np.arange(self.width, dtype=np.float64)
        ys = self.north - half - self.resolution_m * np.arange(self.height, dtype=np.float64)
        return xs.astype(np.float64), ys.astype(np.float64)


def decay(distance_m: NDArray[np.float64], spec: Mapping[str, Any]) -> NDArray[np.float64]:
    """Multiplier 0–1 at ``distance_m`` from a source (see the module docstring)."""
    kind = spec.get("kind")
    if kind == "exp":
        return np.where(distance_m <= float(spec["max_m"]), np.exp(-distance_m / float(spec["scale_m"])), 0.0)
    if kind == "linear":
        return np.clip(1.0 - distance_m / float(spec["radius_m"]), 0.0, 1.0)
    if kind == "bands":
        out = np.zeros_like(distance_m, dtype=float)
        for limit, multiplier in sorted(spec["bands"], reverse=True):  # nearest band written last
            out = np.where(distance_m <= float(limit), float(multiplier), out)
        return out
    raise RiskInputError(f"unknown decay kind {kind!r}; use exp, linear or bands")


def reach_m(spec: Mapping[str, Any]) -> float:
    """How far (m) a decay reaches before it is zero."""
    kind = spec.get("kind")
    if kind == "exp":
        return float(spec["max_m"])
    if kind == "linear":
        return float(spec["radius_m"])
    return float(max(limit for limit, _ in spec["bands"]))


def _kernel(grid: RiskGrid, max_m: float) -> tuple[int, NDArray[np.float64]]:
    """Distances (m) between a cell centre and the centres around it out to ``max_m``."""
    radius = int(np.ceil(max_m / grid.resolution_m))
    steps = np.arange(-radius, radius + 1) * grid.resolution_m
    return radius, np.hypot(steps[:, None], steps[None, :])


def _stamp(target: NDArray[np.float32], kernel: NDArray[np.float32], row: int, col: int, radius: int, combine: Any) -> None:
    """``target[window] = combine(target[window], kernel)`` with the kernel centred on (row, col), clipped to the grid."""
    height, width = target.shape
    r0, r1, c0, c1 = max(0, row - radius), min(height, row + radius + 1), max(0, col - radius), min(width, col + radius + 1)
    if r0 >= r1 or c0 >= c1:
        return
    window = target[r0:r1, c0:c1]
    combine(window, kernel[r0 - row + radius : r1 - row + radius, c0 - col + radius : c1 - col + radius], out=window)


def point_surface(grid: RiskGrid, xy: NDArray[np.float64], intensity: NDArray[np.float64], decay_spec: Mapping[str, Any]) -> NDArray[np.float32]:
    """max over sources of intensity × decay(distance between cell centres).

    Each source stamps its decayed kernel (out to the decay's reach) into the surface with
    ``np.maximum``: the same values as a full-grid distance transform (decay falls with distance,
    so the nearest source of a class wins), at a fraction of the cost, and memory bounded by the
    grid itself. Sources just off the grid still reach into it.
    """
    surface = np.zeros(grid.shape, dtype=np.float32)
    points = np.asarray(xy, dtype=float).reshape(-1, 2)
    strength = np.asarray(intensity, dtype=float)
    radius, distance = _kernel(grid, reach_m(decay_spec))
    shape_of_decay = decay(distance, decay_spec)
    col = np.floor((points[:, 0] - grid.west) / grid.resolution_m).astype(np.int64)
    row = np.floor((grid.north - points[:, 1]) / grid.resolution_m).astype(np.int64)
    kernels: dict[float, NDArray[np.float32]] = {}
    for i in np.flatnonzero(strength > 0):
        level = float(strength[i])
        if level not in kernels:
            kernels[level] = (level * shape_of_decay).astype(np.float32)
        _stamp(surface, kernels[level], int(row[i]), int(col[i]), radius, np.maximum)
    return surface


def point_distance(grid: RiskGrid, xy: NDArray[np.float64], max_m: float) -> NDArray[np.float32]:
    """Distance (m) from each cell centre to the nearest source's cell centre, inf beyond ``max_m``."""
    surface = np.full(grid.shape, np.inf, dtype=np.float32)
    points = np.asarray(xy, dtype=float).reshape(-1, 2)
    radius, distance = _kernel(grid, max_m)
    kernel = np.where(distance <= max_m, distance, np.inf).astype(np.float32)
    col = np.floor((points[:, 0] - grid.west) / grid.resolution_m).astype(np.int64)
    row = np.floor((grid.north - points[:, 1]) / grid.resolution_m).astype(np.int64)
    for r, c in zip(row.tolist(), col.tolist(), strict=True):
        _stamp(surface, kernel, r, c, radius, np.minimum)
    return surface


def exposure(persons: NDArray[np.float64], reference_persons: float) -> NDArray[np.float32]:
    """min(1, ln(1 + persons) / ln(1 + reference)): 0 without residents."""
    if not reference_persons > 0:
        raise RiskInputError(f"exposure reference must be positive persons per cell, got {reference_persons}")
    return np.minimum(1.0, np.log1p(np.maximum(persons, 0.0)) / np.log1p(reference_persons)).astype(np.float32)


def lack_of_capacity(minutes: NDArray[np.floating[Any]], reference_min: float) -> NDArray[np.float32]:
    """min(1, minutes to the nearest rescue station / reference); unreachable (NaN/inf) is 1."""
    lack = np.where(np.isfinite(minutes), np.asarray(minutes, dtype=float) / reference_min, 1.0)
    return np.clip(lack, 0.0, 1.0).astype(np.float32)


def combine(hazards: Mapping[str, NDArray[np.float32]], weights: Mapping[str, float], exposure_surface: NDArray[np.float32], capacity_lack: NDArray[np.float32] | None, vulnerability: NDArray[np.float32] | float = 1.0) -> tuple[NDArray[np.float32], dict[str, NDArray[np.float32]]]:
    """The score (0–1) and each factor's contribution to it (they sum to the score).

    ``weights`` names every hazard factor in ``hazards`` and may name ``capacity``; all ≥ 0.
    """
    unknown = sorted(set(weights) - set(hazards) - {"capacity"})
    if unknown:
        raise RiskInputError(f"weights for unknown factors {unknown}; factors are {sorted(hazards)} and capacity")
    negative = sorted(name for name, w in weights.items() if not (np.isfinite(w) and w >= 0))
    if negative:
        raise RiskInputError(f"weights must be 0 or more, got {[(n, weights[n]) for n in negative]}")
    use_capacity = capacity_lack is not None and weights.get("capacity", 0.0) > 0
    total = sum(weights.get(name, 0.0) for name in hazards) + (weights.get("capacity", 0.0) if use_capacity else 0.0)
    if total <= 0:
        raise RiskInputError("every weight is 0: give at least one factor a positive weight")
    scale = (exposure_surface * np.asarray(vulnerability, dtype=np.float32)).astype(np.float32)
    parts: dict[str, NDArray[np.float32]] = {}
    for name, surface in hazards.items():
        parts[name] = (scale * np.float32(weights.get(name, 0.0) / total) * surface).astype(np.float32)
    if use_capacity:
        assert capacity_lack is not None
        parts["capacity"] = (scale * np.float32(weights["capacity"] / total) * capacity_lack).astype(np.float32)
    score = np.zeros(exposure_surface.shape, dtype=np.float32)
    for part in parts.values():
        score += part
    return score, parts


CLASSIFICATIONS = ("fixed", "quantiles", "natural")
DEFAULT_FIXED_BREAKS = (0.1, 0.2, 0.35)


def level_breaks(score: NDArray[np.float32], method: str = "natural", breaks: Sequence[float] = DEFAULT_FIXED_BREAKS, *, sample: int = 5_000) -> tuple[float, float, float]:
    """Three upper bounds separating 低 | 一般 | 较大 | 重大, from the positive scores.

    ``natural``: Jenks natural breaks (jenkspy, in C) on an evenly spaced rank sample of at most
    ``sample`` sorted positive scores — deterministic, and a second at city size; with fewer than
    four distinct scores, quartiles. ``quantiles``: quartiles of the positive scores. ``fixed``:
    ``breaks`` as given.
    """
    if method == "fixed":
        if len(breaks) != 3 or list(breaks) != sorted(breaks) or len(set(breaks)) != 3:
            raise RiskInputError(f"fixed breaks must be three increasing numbers, got {list(breaks)}")
        return (float(breaks[0]), float(breaks[1]), float(breaks[2]))
    positive = np.sort(score[np.isfinite(score) & (score > 0)].astype(float))
    if positive.size == 0:
        return (np.inf, np.inf, np.inf)  # nothing at risk: every cell 低
    if method not in CLASSIFICATIONS:
        raise RiskInputError(f"classification must be one of {', '.join(CLASSIFICATIONS)}, got {method!r}")
    picked = positive[np.linspace(0, positive.size - 1, min(sample, positive.size)).round().astype(np.int64)]
    if method == "quantiles" or np.unique(picked).size < 4:
        q = np.quantile(positive, [0.25, 0.5, 0.75])
        return (float(q[0]), float(q[1]), float(q[2]))
    if method == "natural":
        import jenkspy

        bins = jenkspy.jenks_breaks(picked, n_classes=4)
        return (float(bins[1]), float(bins[2]), float(bins[3]))
    raise RiskInputError(f"classification must be one of {', '.join(CLASSIFICATIONS)}, got {method!r}")


def classify(score: NDArray[np.float32], upper: tuple[float, float, float], valid: NDArray[np.bool_] | None = None) -> NDArray[np.uint8]:
    """Level codes 1–4 (``LEVEL_CODES``); 0 where ``valid`` is False. A score of 0 is always 低."""
    levels = (1 + np.searchsorted(np.asarray(upper, dtype=np.float64), score.astype(np.float64), side="left")).astype(np.uint8)
    levels[score <= 0] = 1
    if valid is not None:
        levels[~valid] = NODATA
    return levels
