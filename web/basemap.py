"""The offline basemap: XYZ PNG tiles drawn from the store's own admin areas, water and roads, so
the wall map shows a useful map with no internet and no tile server.

``prepare_basemap`` projects the layers once to Web Mercator (EPSG:3857) and indexes them;
``render_basemap_tile`` draws one 256-px tile (supersampled 2× for smooth lines). Roads appear by
class as the zoom allows: the trunk network first, village roads only up close.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import NDArray
from PIL import Image, ImageDraw
from shapely.geometry.base import BaseGeometry

from .tile_grid import TILE_PX, tile_bounds_m

SUPERSAMPLE = 2
STYLE_DIGEST = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
"""Changes whenever this drawing code does: part of the key of the basemap tiles kept on disk."""


OUTSIDE = "#e4e7eb"
LAND = "#f7f5ef"
WATER_FILL, WATER_EDGE = "#a9d3ea", "#6baed6"
CITY_EDGE, COUNTY_EDGE, TOWNSHIP_EDGE = "#6a4c93", "#8f7bb0", "#cbc2dc"

ROAD_STYLE: dict[str, tuple[int, str, float]] = {
    # class: (lowest zoom drawn, colour, width in px at zoom 12)
    "高速公路": (0, "#e8772e", 3.2),
    "国道": (0, "#f0a04b", 2.8),
    "省道": (8, "#f5c26b", 2.4),
    "县道": (10, "#c9b99a", 2.0),
    "乡道": (11, "#d2c6b0", 1.6),
    "城市道路": (12, "#bdbdbd", 1.6),
    "村道": (13, "#d6d6d6", 1.2),
}
"""How each road class is drawn; unknown classes are drawn like 村道."""


@dataclass
class BasemapData:
    """The base layers in Web Mercator metres with a spatial index each."""

    city: NDArray[np.object_]
    counties: NDArray[np.object_]
    townships: NDArray[np.object_]
    water: NDArray[np.object_]
    roads: NDArray[np.object_]
    road_min_zoom: NDArray[np.int_]
    road_colour: list[str]
    road_width: NDArray[np.float64]
    trees: dict[str, shapely.STRtree] = field(init=False)

    def __post_init__(self) -> None:
        self.trees = {name: shapely.STRtree(getattr(self, name)) for name in ("city", "counties", "townships", "water", "roads")}


def _mercator(frame: gpd.GeoDataFrame) -> NDArray[np.object_]:
    if frame.empty:
        return np.array([], dtype=object)
    return np.asarray(frame.to_crs(3857).geometry.array, dtype=object)


def prepare_basemap(admin_areas: gpd.GeoDataFrame, water_bodies: gpd.GeoDataFrame, roads: gpd.GeoDataFrame) -> BasemapData:
    """Project and index the base layers (all EPSG:4326 in). Roads are drawn top class last."""
    by_level = {level: admin_areas.loc[admin_areas["level"] == level] for level in ("市", "区县", "乡镇街道")} if not admin_areas.empty else {}
    empty = admin_areas.iloc[0:0]
    order = np.argsort([-list(ROAD_STYLE).index(c) if c in ROAD_STYLE else -len(ROAD_STYLE) for c in roads.get("road_class", [])], kind="stable")
    roads = roads.iloc[order] if len(order) else roads
    styles = [ROAD_STYLE.get(c, ROAD_STYLE["村道"]) for c in roads.get("road_class", [])]
    return BasemapData(
        city=_mercator(by_level.get("市", empty)),
        counties=_mercator(by_level.get("区县", empty)),
        townships=_mercator(by_level.get("乡镇街道", empty)),
        water=_mercator(water_bodies),
        roads=_mercator(roads),
        road_min_zoom=np.array([s[0] for s in styles], dtype=int),
        road_colour=[s[1] for s in styles],
        road_width=np.array([s[2] for s in styles], dtype=float),
    )


class _Canvas:
    """A supersampled tile image with geometry → pixel drawing."""

    def __init__(self, bounds: tuple[float, float, float, float]) -> None:
        self.west, _, east, self.north = bounds
        self.px = TILE_PX * SUPERSAMPLE
        self.scale = self.px / (east - self.west)
        self.image = Image.new("RGB", (self.px, self.px), OUTSIDE)
        self.draw = ImageDraw.Draw(self.image)

    def _pixels(self, coords: NDArray[np.float64]) -> list[tuple[float, float]]:
        xs = (coords[:, 0] - self.west) * self.scale
        ys = (self.north - coords[:, 1]) * self.scale
        return list(zip(xs.tolist(), ys.tolist(), strict=True))

    def fill(self, geometry: BaseGeometry, colour: str) -> None:
        for polygon in getattr(geometry, "geoms", [geometry]):
            if polygon.geom_type != "Polygon":
                continue
            self.draw.polygon(self._pixels(np.asarray(polygon.exterior.coords)), fill=colour)
            for hole in polygon.interiors:
                self.draw.polygon(self._pixels(np.asarray(hole.coords)), fill=OUTSIDE if colour == LAND else LAND)

    def stroke(self, geometry: BaseGeometry, colour: str, width: float) -> None:
        pixel_width = max(1, round(width * SUPERSAMPLE))
        for line in shapely.get_parts(shapely.boundary(geometry) if geometry.geom_type.endswith("Polygon") else geometry):
            for part in shapely.get_parts(line):
                points = self._pixels(shapely.get_coordinates(part))
                if len(points) > 1:
                    self.draw.line(points, fill=colour, width=pixel_width, joint="curve")

    def png(self) -> bytes:
        buffer = io.BytesIO()
        # BOX: each pixel the mean of its 2 × 2 samples (no ringing, so a third of Lanczos's bytes
        # and a quarter less time); zlib level 3: nearly level 6's size for less time.
        self.image.resize((TILE_PX, TILE_PX), Image.Resampling.BOX).save(buffer, format="PNG", compress_level=3)
        return buffer.getvalue()


def render_basemap_tile(data: BasemapData, z: int, x: int, y: int) -> bytes:
    """One XYZ tile (256 px PNG) of the basemap: land, water, boundaries, roads for zoom ``z``."""
    bounds = tile_bounds_m(z, x, y)
    canvas = _Canvas(bounds)
    margin = 4 * SUPERSAMPLE / canvas.scale
    box = shapely.box(bounds[0] - margin, bounds[1] - margin, bounds[2] + margin, bounds[3] + margin)

    def hits(name: str) -> NDArray[np.int_]:
        return np.sort(data.trees[name].query(box, predicate="intersects"))

    zoom_factor = 2.0 ** ((z - 12) / 3)  # lines thin out gently when zooming out
    for index in hits("city"):
        canvas.fill(data.city[index], LAND)
    for index in hits("water"):
        canvas.fill(data.water[index], WATER_FILL)
        canvas.stroke(data.water[index], WATER_EDGE, 1.0)
    if z >= 11:
        for index in hits("townships"):
            canvas.stroke(data.townships[index], TOWNSHIP_EDGE, 1.0)
    for index in hits("roads"):
        if data.road_min_zoom[index] <= z:
            canvas.stroke(data.roads[index], data.road_colour[index], float(np.clip(data.road_width[index] * zoom_factor, 0.6, 6)))
    for index in hits("counties"):
        canvas.stroke(data.counties[index], COUNTY_EDGE, 1.6)
    for index in hits("city"):
        canvas.stroke(data.city[index], CITY_EDGE, 2.6)
    return canvas.png()
