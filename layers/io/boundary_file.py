"""Read a city's administrative boundary file for ``onemap init``.

Two forms are understood:

- DataV GeoJSON as 阿里云 DataV 地图选择器 publishes it: one feature per division with the
  properties ``adcode``, ``name``, ``center``, ``centroid``, ``childrenNum``, ``level``
  (``province``/``city``/``district``/``street``), ``parent`` (``{"adcode": …}``) and
  ``acroutes``, coordinates in GCJ-02. Both the single-feature city file (``370800.json``) and
  the ``_full`` file of its districts (``370800_full.json``) work.
- Plain GeoJSON, GeoPackage or Shapefile with adcode and name columns (also 行政区划代码, 区划代码,
  名称, 行政区划名称 …; an optional level 级别 and parent 上级区划代码).

The outline is the city-level feature when there is one, else the union of the top-level
features (those whose parent is not in the file). Every geometry is repaired (the polygonal part
of ``make_valid``) and each repair is reported; a city is never refused for it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS

from gis.boundary import close_slivers, polygonal_part, repair_polygonal
from gis.crs import STORE_EPSG, guess_crs, to_wgs84
from layers.catalogue import ADMIN_LEVELS, get_layer
from layers.errors import InputError

LEVELS = {
    "province": "省", "省": "省",
    "city": "市", "市": "市", "地级市": "市", "地区": "市", "自治州": "市", "盟": "市",
    "district": "区县", "county": "区县", "区县": "区县", "县区": "区县", "区": "区县", "县": "区县",
    "县级市": "区县", "旗": "区县", "市辖区": "区县",
    "street": "乡镇街道", "township": "乡镇街道", "town": "乡镇街道", "乡镇街道": "乡镇街道", "乡镇": "乡镇街道",
    "乡": "乡镇街道", "镇": "乡镇街道", "街道": "乡镇街道", "街道办事处": "乡镇街道",
}
"""DataV's English levels and the Chinese words ledgers use → 省 or the catalogue's levels."""

_EXTRA_HEADERS = {
    "adcode": ("adcode", "code", "区划代码", "行政区划代码", "行政代码", "代码", "编码"),
    "name": ("name", "名称", "行政区划名称", "区划名称", "行政区名称", "名字"),
    "level": ("level", "级别", "层级", "行政级别"),
    "parent_adcode": ("parent", "parent_adcode", "上级区划代码", "上级代码", "上级行政区划代码"),
}


@dataclass
class Boundary:
    """A city read from a boundary file, lon/lat WGS 84 (EPSG:4326).

    ``areas`` holds one row per division of the file that is a 市, 区县 or 乡镇街道 (columns
    ``adcode``, ``name``, ``level``, ``parent_adcode``, ``geometry`` as MultiPolygons);
    ``notes`` says what was assumed or repaired, one line each.
    """

    name: str
    adcode: str
    outline: shapely.MultiPolygon
    areas: gpd.GeoDataFrame
    source_file: str
    notes: list[str] = field(default_factory=list)


def _fold(header: str) -> str:
    return re.sub(r"[\s_（）()]", "", str(header)).lower()


def _find_column(frame: pd.DataFrame, field_name: str) -> str | None:
    spec = get_layer("admin_areas")
    candidates = (*_EXTRA_HEADERS[field_name], *spec.field(field_name).aliases)
    folded = {_fold(c): c for c in frame.columns if c != "geometry"}
    for candidate in candidates:
        if _fold(candidate) in folded:
            return folded[_fold(candidate)]
    for header, column in folded.items():  # a .dbf keeps 10 bytes of a name: 行政区划代码 → 行政区划代
        if len(header.encode("gb18030")) >= 9 and any(_fold(c).startswith(header) for c in candidates):
            return column
    return None


def _code(value: Any) -> str | None:
    """An adcode as text: 370800, 370800.0, "370800" → "370800"; nested ``{"adcode": …}`` too."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, dict):
        return _code(value.get("adcode"))
    if isinstance(value, bool):
        return None
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return str(int(value)) if float(value).is_integer() else None
    text = str(value).strip()
    if text.startswith(("{", "[")):  # GDAL versions that hand nested JSON back as a string
        try:
            return _code(json.loads(text))
        except ValueError:
            return None
    if re.fullmatch(r"\d+(\.0+)?", text):
        return text.split(".")[0]
    return text or None


def level_from_adcode(adcode: str) -> str:
    """The level an adcode's digits imply: 6 digits ending 0000 → 省, ending 00 → 市, else 区县;
    9 or 12 digits → 乡镇街道."""
    if len(adcode) >= 9:
        return "乡镇街道"
    if adcode.endswith("0000"):
        return "省"
    if adcode.endswith("00"):
        return "市"
    return "区县"


def parent_from_adcode(adcode: str, level: str) -> str | None:
    """The parent an adcode's digits imply (370811 → 370800, 370811001 → 370811)."""
    if level == "乡镇街道" and len(adcode) >= 9:
        return adcode[:6]
    if level == "区县" and len(adcode) == 6:
        return adcode[:4] + "00"
    if level == "市" and len(adcode) == 6:
        return adcode[:2] + "0000"
    return None


def _read_frame(path: Path, layer: str | None) -> gpd.GeoDataFrame:
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a boundary file")
    options: dict[str, Any] = {}
    if path.suffix.lower() == ".shp" and not path.with_suffix(".cpg").exists():
        dbf = path.with_suffix(".dbf")
        if dbf.exists():
            try:
                dbf.read_bytes().decode("utf-8")
            except UnicodeDecodeError:
                options["encoding"] = "gb18030"  # Chinese .dbf without a .cpg: GBK as a rule
    try:
        frame = pyogrio.read_dataframe(path, layer=layer, **options)
    except Exception as error:  # pyogrio raises several kinds; all mean "cannot read this file"
        raise InputError(f"{path}: cannot be read as GeoJSON, GeoPackage or Shapefile ({error})") from None
    if not isinstance(frame, gpd.GeoDataFrame):
        raise InputError(f"{path}: holds no geometries: a boundary must be the city's (Multi)Polygon outline")
    return frame


def _to_lonlat(frame: gpd.GeoDataFrame, path: Path, notes: list[str]) -> gpd.GeoSeries:
    geometry = frame.geometry
    crs = CRS.from_user_input(frame.crs) if frame.crs is not None else None
    if crs is None:
        x0, y0, x1, y1 = geometry.total_bounds
        try:
            guess = guess_crs([x0, x1], [y0, y1])
        except ValueError as error:
            raise InputError(f"{path}: declares no CRS and {error}") from None
        if guess.epsg != STORE_EPSG:
            raise InputError(f"{path}: declares no CRS and its coordinates look like {guess.reason}: give the file a .prj (or export it as lon/lat)")
        notes.append(f"{path.name}: no CRS declared; {guess.reason}")
        return geometry.set_crs(STORE_EPSG)
    if crs.is_geographic:  # WGS 84 or CGCS2000 (EPSG:4490): equal at map scale
        return geometry.set_crs(STORE_EPSG, allow_override=True)
    return geometry.to_crs(STORE_EPSG)


def _undo_offset(geometry: gpd.GeoSeries, offset_system: str) -> gpd.GeoSeries:
    def transform(coords: np.ndarray) -> np.ndarray:
        lon, lat = to_wgs84(coords[:, 0], coords[:, 1], source=offset_system)
        return np.column_stack([lon, lat])

    return gpd.GeoSeries(shapely.transform(geometry.values, transform), index=geometry.index, crs=STORE_EPSG)


def _attributes(frame: gpd.GeoDataFrame, path: Path) -> pd.DataFrame:
    """adcode, name, level, parent_adcode per feature (text, None where unknown)."""
    columns = {name: _find_column(frame, name) for name in ("adcode", "name", "level", "parent_adcode")}
    if columns["adcode"] is None:
        headers = ", ".join(str(c) for c in frame.columns if c != "geometry") or "none"
        raise InputError(f"{path}: no adcode column (adcode, 行政区划代码 or 区划代码); its columns: {headers}")
    adcodes = [_code(v) for v in frame[columns["adcode"]]]
    names = [None if columns["name"] is None or pd.isna(v) else str(v).strip() for v in frame[columns["name"]]] if columns["name"] else [None] * len(frame)
    levels: list[str | None] = []
    for adcode, value in zip(adcodes, frame[columns["level"]] if columns["level"] else [None] * len(frame), strict=True):
        text = None if value is None or (isinstance(value, float) and np.isnan(value)) else str(value).strip()
        if text and text.lower() in LEVELS:
            levels.append(LEVELS[text.lower()])
        elif text and text in LEVELS:
            levels.append(LEVELS[text])
        elif adcode and adcode.isdigit():
            levels.append(level_from_adcode(adcode))
        else:
            levels.append(None)
    parents = [_code(v) for v in frame[columns["parent_adcode"]]] if columns["parent_adcode"] else [None] * len(frame)
    parents = [p if p else (parent_from_adcode(a, lv) if a and lv else None) for p, a, lv in zip(parents, adcodes, levels, strict=True)]
    return pd.DataFrame({"adcode": adcodes, "name": names, "level": levels, "parent_adcode": parents}, index=frame.index)


def _repaired(attributes: pd.DataFrame, geometry: gpd.GeoSeries, path: Path, notes: list[str]) -> gpd.GeoDataFrame:
    kept: list[int] = []
    shapes: list[shapely.MultiPolygon] = []
    for position, (label, shape) in enumerate(zip(attributes.index, geometry.values, strict=True)):
        name, adcode = attributes.at[label, "name"], attributes.at[label, "adcode"]  # text or None (see _attributes)
        what = f"{name or 'feature'!s} ({adcode or f'feature {position + 1}'!s})"
        repair = repair_polygonal(shape)
        if repair.repaired:
            notes.append(f"{path.name}: {what}: {repair.problem} — repaired (polygonal part of make_valid kept, area {repair.area_change_km2:+.3f} km²)")
        if repair.geometry is None:
            if repair.repaired:
                notes.append(f"{path.name}: {what}: nothing polygonal left after the repair; skipped")
            continue
        kept.append(position)
        shapes.append(shapely.orient_polygons(repair.geometry))
    return gpd.GeoDataFrame(attributes.iloc[kept].reset_index(drop=True), geometry=shapes, crs=STORE_EPSG)


def _outline(areas: gpd.GeoDataFrame, path: Path, name: str | None, notes: list[str]) -> tuple[str, str, shapely.MultiPolygon, str]:
    """The city's name, adcode, outline and how the outline was found."""
    cities = areas.loc[areas["level"] == "市"]
    if len(cities) == 1:
        city = cities.iloc[0]
        if not city["adcode"]:
            raise InputError(f"{path}: the city-level feature has no adcode")
        return name or city["name"] or "", str(city["adcode"]), city.geometry, f"the city-level feature {city['name']} ({city['adcode']})"
    codes = set(areas["adcode"].dropna())
    top = areas.loc[~areas["parent_adcode"].isin(codes) | areas["parent_adcode"].isna()]
    outline, closed = close_slivers(shapely.union_all(np.asarray(top.geometry.values)))
    if outline is None:  # pragma: no cover - every kept area is polygonal
        raise InputError(f"{path}: no polygon in the file")
    if closed:
        notes.append(f"{path.name}: {closed} sliver gaps (< 1 ha) between the divisions closed in the outline")
    parents = set(top["parent_adcode"].dropna())
    if len(top) == 1:
        adcode, found_name = str(top.iloc[0]["adcode"]), top.iloc[0]["name"]
    elif len(parents) == 1:
        adcode, found_name = parents.pop(), None
    else:
        raise InputError(f"{path}: the top-level features belong to {len(parents) or 'no'} parents ({', '.join(sorted(parents)) or 'none given'}), not one city: use the city's own file (e.g. DataV 370800_full.json)")
    return name or found_name or "", adcode, outline, f"the union of the {len(top)} top-level features"


def read_boundary(path: Path, *, offset_system: str | None = None, name: str | None = None, layer: str | None = None) -> Boundary:
    """Read a city boundary file (DataV GeoJSON, plain GeoJSON/GeoPackage/Shapefile).

    Parameters
    ----------
    path
        The file.
    offset_system
        ``"gcj02"`` (DataV, Gaode, Tencent) or ``"bd09"`` (Baidu): the coordinates' offset is
        undone to WGS 84. None: the file is WGS 84/CGCS2000 lon/lat or declares its CRS.
    name
        The city's name, overriding the file's (needed for a ``_full`` file of districts only).
    layer
        Layer inside a multi-layer GeoPackage.

    Returns
    -------
    Boundary
        Outline and divisions in EPSG:4326, with notes on what was assumed and repaired.

    Raises
    ------
    InputError
        No such file, not a GIS file, no polygon, no adcode column, no city name.
    """
    path = Path(path)
    notes: list[str] = []
    frame = _read_frame(path, layer)
    polygonal = np.array([polygonal_part(g) is not None for g in frame.geometry.values], dtype=bool) if len(frame) else np.zeros(0, dtype=bool)
    if not polygonal.any():
        kinds = sorted({g.geom_type for g in frame.geometry.values if g is not None}) or ["none"]
        raise InputError(f"{path}: no polygon in the file ({len(frame)} features, geometry {', '.join(kinds)}): a boundary must hold the city's (Multi)Polygon outline, e.g. DataV's 370800.json")
    if not polygonal.all():
        notes.append(f"{path.name}: {int((~polygonal).sum())} features without a polygon skipped")
    frame = frame.loc[polygonal]
    geometry = _to_lonlat(frame, path, notes)
    if offset_system:
        geometry = _undo_offset(geometry, offset_system)
        notes.append(f"{path.name}: coordinates converted from {offset_system.upper()} to WGS 84")
    attributes = _attributes(frame, path)
    areas = _repaired(attributes, geometry, path, notes)
    if areas.empty:
        raise InputError(f"{path}: no polygon left after repairing the geometries")
    city_name, adcode, outline, how = _outline(areas, path, name, notes)
    if not city_name:
        raise InputError(f"{path}: the file has no city-level feature to take the city's name from: pass --name, e.g. --name 济宁市")
    notes.append(f"{path.name}: outline = {how}")
    divisions = areas.loc[areas["level"].isin(ADMIN_LEVELS) & areas["adcode"].notna()].copy()
    if (divisions["level"] == "市").sum() == 0:
        divisions = pd.concat([
            gpd.GeoDataFrame({"adcode": [adcode], "name": [city_name], "level": ["市"], "parent_adcode": [parent_from_adcode(adcode, "市")]}, geometry=[outline], crs=STORE_EPSG),
            divisions,
        ], ignore_index=True)
    elif name:
        divisions.loc[divisions["adcode"] == adcode, "name"] = name
    missing_names = divisions["name"].isna()
    if missing_names.any():
        raise InputError(f"{path}: {int(missing_names.sum())} divisions have no name (e.g. adcode {divisions.loc[missing_names, 'adcode'].iloc[0]}): add a name column (name, 名称)")
    return Boundary(city_name, adcode, shapely.orient_polygons(outline), gpd.GeoDataFrame(divisions.reset_index(drop=True), geometry="geometry", crs=STORE_EPSG), path.name, notes)
