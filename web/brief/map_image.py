"""The brief's map as a PNG, drawn by onemap itself: the offline basemap's own XYZ tiles
(``web.basemap.render_basemap_tile``) stitched and cropped to the extent, then the layers, a
legend, a scale bar, a north arrow and a frame on top. Never an online service.

Drawn with Pillow, like the basemap tiles themselves (matplotlib would add nothing here and is
slower to start): the layers on a 2× supersampled transparent sheet that is then reduced (smooth
edges), text at the final size with FreeType's anti-aliasing.
"""

from __future__ import annotations

import functools
import io
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray
from PIL import Image, ImageChops, ImageDraw
from pyproj import Transformer
from shapely.geometry.base import BaseGeometry

from layers.errors import InputError

from ..basemap import LAND, BasemapData, render_basemap_tile
from ..tile_grid import TILE_PX, tile_bounds_m, tile_exists, tile_of
from .content import BriefMap, ClosureLayer, LineLayer, MapLayer, PointLayer, ZoneLayer
from .map_furniture import (
    DPI,
    INK,
    ZONE_ALPHA,
    Legend,
    ScaleBar,
    corner,
    draw_labels,
    draw_marker,
    draw_north_arrow,
    draw_scale_bar,
    mm_px,
    rgba,
)

logger = logging.getLogger(__name__)

FRAME_MM = (170.0, 130.0)
FRAME_PX = (round(FRAME_MM[0] / 25.4 * DPI), round(FRAME_MM[1] / 25.4 * DPI))
"""(width, height) of the map image in pixels: 1339 × 1024."""
SUPERSAMPLE = 2
MAX_ZOOM = 18
MIN_EXTENT_M = 2000.0
"""Smallest side of a fitted extent (ground metres): one point still shows its surroundings."""
_HALF_WORLD = 20037508.342789244


@dataclass(frozen=True)
class MapImage:
    """A rendered map. ``extent`` (west, south, east, north, lon/lat degrees) is what the image
    shows edge to edge; ``metres_per_px`` the ground distance of a pixel along the centre latitude;
    ``legend_box`` (left, top, right, bottom) pixels, ``None`` without layers; ``labels_dropped``
    the point texts left out for lack of room."""

    png: bytes
    width_px: int
    height_px: int
    extent: tuple[float, float, float, float]
    zoom: int
    metres_per_px: float
    scale_bar: ScaleBar
    legend_box: tuple[int, int, int, int] | None
    labels_dropped: int


@functools.cache
def _to_mercator() -> Transformer:
    return Transformer.from_crs(4326, 3857, always_xy=True)


@functools.cache
def _to_lonlat() -> Transformer:
    return Transformer.from_crs(3857, 4326, always_xy=True)


def _mercator(geometry: BaseGeometry) -> BaseGeometry:
    def project(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        x, y = _to_mercator().transform(coords[:, 0], np.clip(coords[:, 1], -85.06, 85.06))
        return np.column_stack([x, y])
    return shapely.transform(geometry, project)


class _View:
    """Web-Mercator box ↔ image pixels (at ``scale`` × the final size)."""

    def __init__(self, box: tuple[float, float, float, float], size: tuple[int, int]) -> None:
        self.west, self.south, self.east, self.north = box
        self.size = size
        self.res = (self.east - self.west) / size[0]  # Web-Mercator metres per final pixel

    def pixels(self, geometry: BaseGeometry, scale: int = 1) -> list[tuple[float, float]]:
        coords = shapely.get_coordinates(geometry)
        xs = (coords[:, 0] - self.west) / self.res * scale
        ys = (self.north - coords[:, 1]) / self.res * scale
        return list(zip(xs.tolist(), ys.tolist(), strict=True))

    def clip(self, geometry: BaseGeometry) -> BaseGeometry:
        pad = 20 * self.res
        simple = shapely.simplify(geometry, self.res / (2 * SUPERSAMPLE))
        return shapely.clip_by_rect(simple, self.west - pad, self.south - pad, self.east + pad, self.north + pad)


def render_map_image(brief_map: BriefMap, *, size_px: tuple[int, int] = FRAME_PX) -> MapImage:
    """Draw ``brief_map`` as a PNG of ``size_px`` (width, height) pixels at ``DPI``.

    The basemap is rendered at the tile zoom nearest the map's scale and resampled to it; the
    extent is the map's (or the layers' with a margin and room for the legend), widened to the
    image's shape. Raises ``InputError`` when there is nothing to fit (no extent, no layers).
    """
    width, height = size_px
    projected = [(layer, _project(layer)) for layer in brief_map.layers]
    legend = Legend([layer for layer, _ in projected], max_height=height - 32)
    box = _fit(brief_map, [geometry for _, geometry in projected], size_px, legend.size)
    view = _View(box, size_px)
    zoom = int(np.clip(round(math.log2(2 * _HALF_WORLD / TILE_PX / view.res)), 0, MAX_ZOOM))
    image = _basemap(brief_map.basemap, view, zoom, brief_map.tiles)

    sheet = Image.new("RGBA", (width * SUPERSAMPLE, height * SUPERSAMPLE), (0, 0, 0, 0))
    points: list[tuple[PointLayer, list[tuple[float, float]]]] = []
    order = sorted(range(len(projected)), key=lambda i: _draw_rank(projected[i][0]))
    for index in order:
        layer, geometry = projected[index]
        if isinstance(layer, PointLayer):
            points.append((layer, _draw_points(sheet, view, layer, geometry)))
        else:
            _draw_shape(sheet, view, layer, geometry)
    overlay = sheet.resize(size_px, Image.Resampling.BOX)
    image = Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB")

    covered = np.asarray(overlay.getchannel("A")) > 0
    centre_lat = _to_lonlat().transform((view.west + view.east) / 2, (view.south + view.north) / 2)[1]
    metres_per_px = view.res * math.cos(math.radians(centre_lat))
    draw = ImageDraw.Draw(image)
    legend_box = legend.draw(draw, corner(covered, legend.size, ("bottom-right", "bottom-left", "top-right", "top-left")))
    taken = [legend_box]
    bar, bar_box = draw_scale_bar(draw, covered, metres_per_px, taken)
    taken.append(bar_box)
    taken.append(draw_north_arrow(draw, covered, taken))
    dropped = draw_labels(draw, points, taken, size_px)
    draw.rectangle((0, 0, width - 1, height - 1), outline=INK, width=3)

    west, south = _to_lonlat().transform(view.west, view.south)
    east, north = _to_lonlat().transform(view.east, view.north)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=3)
    left, top, right, bottom = (int(value) for value in legend_box)
    return MapImage(buffer.getvalue(), width, height, (west, south, east, north), zoom, metres_per_px, bar,
                    (left, top, right, bottom) if legend.labels else None, dropped)


def _project(layer: MapLayer) -> BaseGeometry:
    """The layer in Web-Mercator metres; a point layer as a GeometryCollection of its points,
    one each, empty ones kept (so each point stays beside its text)."""
    if isinstance(layer, PointLayer):
        return _mercator(shapely.GeometryCollection(list(layer.points)))
    return _mercator(layer.geometry)


def _draw_rank(layer: MapLayer) -> tuple[int, int]:
    """Zones (least severe first), closures, lines, points: the most important drawn last."""
    if isinstance(layer, ZoneLayer):
        return (0, layer.severity)
    return ({ClosureLayer: 1, LineLayer: 2, PointLayer: 3}[type(layer)], 0)


def _fit(brief_map: BriefMap, geometries: list[BaseGeometry], size: tuple[int, int], legend: tuple[int, int]) -> tuple[float, float, float, float]:
    """The Web-Mercator box shown: the map's extent or the layers' bounds (room left for the
    legend beside or below them when that costs little scale), widened to the image's shape."""
    width, height = size
    if brief_map.extent is not None:
        bounds = _mercator(shapely.box(*brief_map.extent)).bounds
        pad, room = 0.0, (0, 0)
    else:
        shapes = [g for g in geometries if not g.is_empty]
        if not shapes and brief_map.basemap is not None and len(brief_map.basemap.city):
            shapes = list(brief_map.basemap.city)
        if not shapes:
            raise InputError("the brief's map has no extent, no layer with a geometry and no city outline to fit")
        bounds = shapely.GeometryCollection(shapes).bounds
        pad, room = 0.05 * width, legend
    west, south, east, north = bounds
    cx, cy = (west + east) / 2, (south + north) / 2
    least = MIN_EXTENT_M / math.cos(math.radians(_to_lonlat().transform(cx, cy)[1]))
    span_x, span_y = max(east - west, least), max(north - south, least)
    over = max(span_x / (width - 2 * pad), span_y / (height - 2 * pad))
    res, shift = over, (0.0, 0.0)
    if room != (0, 0):
        beside = max(span_x / max(width - 3 * pad - room[0], 0.2 * width), span_y / (height - 2 * pad))
        below = max(span_x / (width - 2 * pad), span_y / max(height - 3 * pad - room[1], 0.2 * height))
        if min(beside, below) <= 1.35 * over:  # the layers moved aside just enough for the legend
            res = min(beside, below)
            if beside <= below:
                shift = (min(max(room[0] + 2 * pad - (width - span_x / res) / 2, 0.0), (width - span_x / res) / 2 - pad), 0.0)
            else:
                shift = (0.0, min(max(room[1] + 2 * pad - (height - span_y / res) / 2, 0.0), (height - span_y / res) / 2 - pad))
    half_w, half_h = width * res / 2, height * res / 2
    cx, cy = cx + shift[0] * res, cy - shift[1] * res
    return (cx - half_w, cy - half_h, cx + half_w, cy + half_h)


def _basemap(data: BasemapData | None, view: _View, zoom: int, tiles: Callable[[int, int, int], bytes] | None) -> Image.Image:
    """The basemap's tiles at ``zoom`` (from ``tiles``, else drawn from ``data``) stitched and
    resampled onto the view."""
    if data is None:
        return Image.new("RGB", view.size, LAND)
    (west, north), (east, south) = (_to_lonlat().transform(x, y) for x, y in ((view.west, view.north), (view.east, view.south)))
    x0, y0 = tile_of(max(west, -179.999), min(north, 85.05), zoom)
    x1, y1 = tile_of(min(east, 179.999), max(south, -85.05), zoom)
    mosaic = Image.new("RGB", ((x1 - x0 + 1) * TILE_PX, (y1 - y0 + 1) * TILE_PX), LAND)
    for x in range(x0, x1 + 1):
        for y in range(y0, y1 + 1):
            if tile_exists(zoom, x, y):
                png = tiles(zoom, x, y) if tiles is not None else render_basemap_tile(data, zoom, x, y)
                mosaic.paste(Image.open(io.BytesIO(png)), ((x - x0) * TILE_PX, (y - y0) * TILE_PX))
    left, _, right, top = tile_bounds_m(zoom, x0, y0)
    tile_res = (right - left) / TILE_PX
    crop = ((view.west - left) / tile_res, (top - view.north) / tile_res, (view.east - left) / tile_res, (top - view.south) / tile_res)
    return mosaic.resize(view.size, Image.Resampling.LANCZOS, box=crop)


def _polygon_mask(view: _View, geometry: BaseGeometry, size: tuple[int, int]) -> Image.Image:
    mask = Image.new("L", size, 0)
    draw = ImageDraw.Draw(mask)
    for polygon in shapely.get_parts(geometry):
        if polygon.geom_type != "Polygon" or polygon.is_empty:
            continue
        draw.polygon(view.pixels(polygon.exterior, SUPERSAMPLE), fill=255)
        for hole in polygon.interiors:
            draw.polygon(view.pixels(hole, SUPERSAMPLE), fill=0)
    return mask


def _lines(geometry: BaseGeometry) -> list[BaseGeometry]:
    """The lines of a geometry: polygons' rings, lines; points dropped."""
    found: list[BaseGeometry] = []
    for part in shapely.get_parts(geometry):
        if part.geom_type == "Polygon":
            found += [part.exterior, *part.interiors]
        elif part.geom_type in ("LineString", "LinearRing"):
            found.append(part)
        elif part.geom_type != "Point":
            found += _lines(part)
    return found


def _stroke(draw: ImageDraw.ImageDraw, view: _View, geometry: BaseGeometry, colour: tuple[int, int, int, int], width: float) -> None:
    for line in _lines(geometry):
        points = view.pixels(line, SUPERSAMPLE)
        if len(points) > 1:
            draw.line(points, fill=colour, width=max(1, round(width * SUPERSAMPLE)), joint="curve")


def _draw_shape(sheet: Image.Image, view: _View, layer: MapLayer, geometry: BaseGeometry) -> None:
    geometry = view.clip(geometry)
    if geometry.is_empty:
        return
    draw = ImageDraw.Draw(sheet)
    if isinstance(layer, ZoneLayer):
        sheet.paste(rgba(layer.colour, ZONE_ALPHA), mask=_polygon_mask(view, geometry, sheet.size))
        _stroke(draw, view, geometry, rgba(layer.colour), mm_px(0.25))
    elif isinstance(layer, ClosureLayer):
        if layer.hatched:
            mask = _polygon_mask(view, geometry, sheet.size)
            sheet.paste(rgba(layer.colour), mask=ImageChops.multiply(mask, _hatch(sheet.size, mask.getbbox())))
        _stroke(draw, view, geometry, rgba(layer.colour), mm_px(0.4))
    elif isinstance(layer, LineLayer):
        _stroke(draw, view, geometry, (255, 255, 255, 255), mm_px(layer.width_mm) + 4)
        _stroke(draw, view, geometry, rgba(layer.colour), mm_px(layer.width_mm))


def _hatch(size: tuple[int, int], bbox: tuple[int, int, int, int] | None) -> Image.Image:
    """Diagonal lines (45°, every 2.5 mm) over ``bbox`` of a supersampled sheet."""
    hatch = Image.new("L", size, 0)
    if bbox is None:
        return hatch
    draw = ImageDraw.Draw(hatch)
    left, top, right, bottom = bbox
    step = round(mm_px(2.5) * SUPERSAMPLE)
    for offset in range(left - (bottom - top) - (left % step), right + step, step):
        draw.line([(offset, bottom), (offset + bottom - top, top)], fill=255, width=round(mm_px(0.3) * SUPERSAMPLE))
    return hatch


def _draw_points(sheet: Image.Image, view: _View, layer: PointLayer, geometry: BaseGeometry) -> list[tuple[float, float]]:
    """The markers on the supersampled sheet; returns each point's final pixel position."""
    draw = ImageDraw.Draw(sheet)
    radius = mm_px(layer.size_mm) / 2 * SUPERSAMPLE
    positions = []
    for point in shapely.get_parts(geometry):
        x, y = view.pixels(point)[0] if not point.is_empty else (math.nan, math.nan)
        positions.append((x, y))
        if -radius <= x * SUPERSAMPLE <= sheet.width + radius and -radius <= y * SUPERSAMPLE <= sheet.height + radius:
            draw_marker(draw, x * SUPERSAMPLE, y * SUPERSAMPLE, radius, layer.marker, rgba(layer.colour), (255, 255, 255, 255), 2 * SUPERSAMPLE)
    return positions


