"""What a command-centre brief (简报) says, as plain frozen dataclasses: the renderers
(``pdf.render_brief_pdf``, ``workbook.render_brief_xlsx``) take a :class:`Brief` and return bytes.

Geometries are shapely geometries in **EPSG:4326** (longitude, latitude in degrees); the
``from_frame`` helpers take a GeoDataFrame in any CRS and reproject it. Text may come from data
(names typed by people): the renderers print it as text, never as markup.
"""

from __future__ import annotations

import math
import numbers
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import geopandas as gpd
import shapely
from shapely.geometry.base import BaseGeometry

from layers.errors import InputError

from ..basemap import BasemapData

BEIJING = timezone(timedelta(hours=8), "北京时间")
"""China Standard Time (UTC+8, no daylight saving): the brief's clock."""

Cell = str | int | float | None
MARKERS: tuple[str, ...] = ("circle", "square", "triangle", "diamond", "cross")
"""The point markers a ``PointLayer`` may use."""
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")


def _check_colour(colour: str, what: str) -> None:
    if not _HEX.match(colour):
        raise InputError(f"{what}: colour {colour!r} is not #rrggbb")


def _lonlat(geometry: BaseGeometry, what: str) -> BaseGeometry:
    if not isinstance(geometry, BaseGeometry):
        raise InputError(f"{what}: expected a shapely geometry in EPSG:4326, got {type(geometry).__name__}")
    if not geometry.is_empty:
        west, south, east, north = geometry.bounds
        if west < -180 or east > 180 or south < -90 or north > 90:
            raise InputError(f"{what}: bounds {geometry.bounds} are not lon/lat degrees (EPSG:4326)")
    return geometry


def geometry_from_frame(frame: gpd.GeoDataFrame) -> BaseGeometry:
    """All geometries of ``frame`` (any CRS; none → EPSG:4326 assumed) as one lon/lat geometry."""
    if frame.crs is not None and frame.crs.to_epsg() != 4326:
        frame = frame.to_crs(4326)
    return shapely.union_all(frame.geometry.array) if len(frame) else shapely.GeometryCollection()


@dataclass(frozen=True)
class ZoneLayer:
    """A zone (depth class, risk level, plume band): polygons filled semi-transparent in ``colour``
    (#rrggbb) under one legend ``label``. Zones are drawn by ``severity``, the highest last (on top)."""

    label: str
    colour: str
    geometry: BaseGeometry
    severity: int = 0

    def __post_init__(self) -> None:
        _check_colour(self.colour, f"zone {self.label!r}")
        _lonlat(self.geometry, f"zone {self.label!r}")


@dataclass(frozen=True)
class ClosureLayer:
    """Closed areas (封控区, road closures as polygons): outlined in ``colour`` and, when
    ``hatched``, hatched diagonally, with nothing filled under them."""

    label: str
    colour: str
    geometry: BaseGeometry
    hatched: bool = True

    def __post_init__(self) -> None:
        _check_colour(self.colour, f"closure {self.label!r}")
        _lonlat(self.geometry, f"closure {self.label!r}")


@dataclass(frozen=True)
class LineLayer:
    """Lines (routes): ``geometry`` a (Multi)LineString, ``width_mm`` on paper."""

    label: str
    colour: str
    geometry: BaseGeometry
    width_mm: float = 0.8

    def __post_init__(self) -> None:
        _check_colour(self.colour, f"line {self.label!r}")
        _lonlat(self.geometry, f"line {self.label!r}")
        if not 0 < self.width_mm <= 5:
            raise InputError(f"line {self.label!r}: width_mm {self.width_mm} is not in (0, 5]")


@dataclass(frozen=True)
class PointLayer:
    """Points (incident, shelters, depots, rescue stations) as ``marker`` (one of ``MARKERS``) in
    ``colour``, ``size_mm`` across on paper; ``texts``, when given, one label per point (``None`` or
    "" for none) printed beside it where there is room."""

    label: str
    colour: str
    points: Sequence[shapely.Point]
    marker: str = "circle"
    texts: Sequence[str | None] | None = None
    size_mm: float = 2.6

    def __post_init__(self) -> None:
        _check_colour(self.colour, f"points {self.label!r}")
        if self.marker not in MARKERS:
            raise InputError(f"points {self.label!r}: marker {self.marker!r} is not one of {', '.join(MARKERS)}")
        for index, point in enumerate(self.points):
            if not isinstance(point, shapely.Point):
                raise InputError(f"points {self.label!r}: item {index} is a {type(point).__name__}, not a shapely Point")
            _lonlat(point, f"points {self.label!r} item {index}")
        if self.texts is not None and len(self.texts) != len(self.points):
            raise InputError(f"points {self.label!r}: {len(self.texts)} texts for {len(self.points)} points")

    @classmethod
    def from_frame(cls, frame: gpd.GeoDataFrame, *, label: str, colour: str, marker: str = "circle", text_column: str | None = None) -> PointLayer:
        """The points of ``frame`` (any CRS), labelled from ``text_column`` when given."""
        if frame.crs is not None and frame.crs.to_epsg() != 4326:
            frame = frame.to_crs(4326)
        points = [geometry if isinstance(geometry, shapely.Point) else geometry.representative_point() for geometry in frame.geometry]
        texts = None if text_column is None else [None if value is None else str(value) for value in frame[text_column]]
        return cls(label, colour, points, marker, texts)


MapLayer = ZoneLayer | ClosureLayer | LineLayer | PointLayer
"""One legend entry of the map, drawn in this order: zones, closures, lines, points."""


@dataclass(frozen=True)
class BriefMap:
    """The brief's map: ``layers`` over the offline ``basemap`` (``web.basemap.prepare_basemap``;
    ``None``: plain land). ``extent`` is (west, south, east, north) in lon/lat degrees, or ``None``
    to fit the layers with a margin; either way it is widened to the frame's shape. ``tiles``, when
    given, hands out that basemap's PNG tiles ((z, x, y) → PNG) already drawn, as a server keeps
    them for the wall map; otherwise each tile is drawn from ``basemap``."""

    layers: Sequence[MapLayer]
    basemap: BasemapData | None = None
    extent: tuple[float, float, float, float] | None = None
    caption: str = ""
    tiles: Callable[[int, int, int], bytes] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.extent is not None:
            west, south, east, north = self.extent
            if not (-180 <= west < east <= 180 and -85 <= south < north <= 85):
                raise InputError(f"map extent {self.extent} is not a (west, south, east, north) lon/lat box within ±85° latitude")


@dataclass(frozen=True)
class BriefTable:
    """A table: ``rows`` of cells (text, numbers or ``None``), one per column.

    Numbers are right-aligned with thousands separators: integers as integers (persons), floats
    to ``decimals.get(column, 1)`` places. ``numeric_columns`` names the columns aligned and
    written as numbers; ``None`` infers them (every filled cell a number). An empty table prints
    "无" (none).
    """

    title: str
    columns: Sequence[str]
    rows: Sequence[Sequence[Cell]]
    note: str | None = None
    numeric_columns: frozenset[str] | None = None
    decimals: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.columns, str) or not self.columns:
            raise InputError(f"table {self.title!r}: no columns (a list of column names)")
        for index, row in enumerate(self.rows):
            if len(row) != len(self.columns):
                raise InputError(f"table {self.title!r}: row {index} has {len(row)} cells for {len(self.columns)} columns")
        unknown = set(self.numeric_columns or ()) | set(self.decimals)
        unknown -= set(self.columns)
        if unknown:
            raise InputError(f"table {self.title!r}: {', '.join(sorted(unknown))} not among its columns {list(self.columns)}")

    def is_numeric(self, column: int) -> bool:
        """Whether column ``column`` (index) holds numbers."""
        if self.numeric_columns is not None:
            return self.columns[column] in self.numeric_columns
        values = [row[column] for row in self.rows if row[column] is not None and row[column] != ""]
        return bool(values) and all(is_number(value) for value in values)

    def format_cell(self, column: int, value: Cell) -> str:
        """The cell as printed: numbers with separators, ``None``/NaN as "—", text cleaned."""
        return format_number(value, self.decimals.get(self.columns[column], 1)) if is_number(value) else clean_text(value)


@dataclass(frozen=True)
class Brief:
    """A command-centre brief. ``made_at`` must be timezone-aware (it is printed in Beijing
    time); ``summary`` short sentences at the top; ``review_number`` the map's 审图号 line."""

    title: str
    made_at: datetime
    author: str
    summary: Sequence[str]
    map: BriefMap | None
    tables: Sequence[BriefTable]
    notes: Sequence[str] = ()
    review_number: str = "审图号：待审"

    def __post_init__(self) -> None:
        for name in ("summary", "notes"):
            if isinstance(getattr(self, name), str):
                raise InputError(f"brief {name}: a list of sentences, not one string")
        if self.made_at.tzinfo is None or self.made_at.utcoffset() is None:
            raise InputError(f"brief made_at {self.made_at.isoformat()} has no timezone: pass an aware datetime")

    @property
    def made_at_text(self) -> str:
        """``made_at`` in Beijing time, e.g. "2026年12月03日 22:15"."""
        return self.made_at.astimezone(BEIJING).strftime("%Y年%m月%d日 %H:%M")


def is_number(value: object) -> bool:
    """Whether a cell is a number (bools are not: they print as text)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def format_number(value: Cell, decimals: int = 1) -> str:
    """12345 → "12,345"; 1234.56 → "1,234.6" (``decimals`` places for floats); NaN → "—"."""
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    if isinstance(value, numbers.Real):
        number = float(value)
        if math.isnan(number):
            return "—"
        return f"{number:,.{decimals}f}" if math.isfinite(number) else ("∞" if number > 0 else "-∞")
    return clean_text(value)


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def clean_text(value: object) -> str:
    """A cell or sentence as safe plain text: ``None`` → "—"; control characters dropped, line
    breaks and tabs → spaces, lone surrogates → "?" (readers and the XML of XLSX refuse them)."""
    if value is None:
        return "—"
    text = unicodedata.normalize("NFC", str(value))
    text = _CONTROL.sub("", text.replace("\r\n", " ").replace("\n", " ").replace("\r", " ").replace("\t", " "))
    return text.encode("utf-8", "replace").decode("utf-8")
