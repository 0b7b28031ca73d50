"""``onemap export LAYER FILE``: a layer to GeoPackage, GeoJSON, Shapefile, CSV or XLSX.

GIS formats keep the field names; Shapefile gets ≤ 10-character names (the .dbf limit) and UTF-8
text with a .cpg; CSV and XLSX are ledgers for people: Chinese headers with units, 经度/纬度
columns for points, and a WKT column for every geometry. Each export is read back by
``onemap import`` unchanged.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely

from layers.catalogue import SOURCE_ID, LayerSpec, get_layer, shapefile_field_names
from layers.errors import InputError
from layers.store.base import Store

EXPORT_FORMATS = {".gpkg": "GPKG", ".geojson": "GeoJSON", ".json": "GeoJSON", ".shp": "ESRI Shapefile", ".csv": "CSV", ".xlsx": "XLSX"}


def ledger_frame(spec: LayerSpec, frame: gpd.GeoDataFrame) -> pd.DataFrame:
    """A plain table with Chinese headers: 编号, the fields' labels with units, then 经度/纬度 (points) and wkt."""
    table = pd.DataFrame({"编号": frame[SOURCE_ID]})
    for f in spec.fields:
        column = frame[f.name]
        if f.type == "datetime":
            column = column.map(lambda v: None if pd.isna(v) else v.isoformat())
        table[f.display_label] = column
    if spec.geometry_type == "Point" or (len(frame) and (frame.geometry.geom_type == "Point").all()):
        table["经度"] = frame.geometry.x.map(repr)
        table["纬度"] = frame.geometry.y.map(repr)
    table["wkt"] = shapely.to_wkt(frame.geometry.values, rounding_precision=-1)  # full precision
    return table


def to_layer_file(store: Store, layer: str, path: str | Path) -> int:
    """Write every feature of ``layer`` to ``path`` (format by suffix); returns the feature count.

    The file appears whole or not at all: it is written beside the target and renamed into place.
    """
    spec = get_layer(layer)
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in EXPORT_FORMATS:
        raise InputError(f"{path}: unknown export format {suffix or '(none)'}; use one of {', '.join(EXPORT_FORMATS)}")
    if not path.parent.exists():
        raise InputError(f"{path}: folder {path.parent} does not exist")
    frame = store.read(spec.name)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".onemap-export-") as work:
        temporary = Path(work) / path.name
        if suffix in (".csv", ".xlsx"):
            table = ledger_frame(spec, frame)
            if suffix == ".csv":
                table.to_csv(temporary, index=False, encoding="utf-8-sig")
            else:
                table.to_excel(temporary, index=False, sheet_name=spec.title_zh, engine="openpyxl")
        elif suffix == ".shp":
            renamed = frame.rename(columns=shapefile_field_names(spec))
            pyogrio.write_dataframe(renamed, temporary, driver="ESRI Shapefile", encoding="UTF-8")
        else:
            pyogrio.write_dataframe(frame, temporary, layer=spec.name, driver=EXPORT_FORMATS[suffix])
        for produced in Path(work).iterdir():  # a shapefile is several files
            os.replace(produced, path.parent / produced.name)
    return len(frame)
