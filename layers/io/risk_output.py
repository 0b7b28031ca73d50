"""Risk results as files: cloud-optimised GeoTIFFs (score float32, level uint8), a GeoPackage (level
polygons, per-area table, parameters), an XLSX table with Chinese headers, and the map.

Rasters are written to memory as GeoTIFF and copied by GDAL's COG driver (tiled, deflate,
overviews, nodata, CRS, and the parameters and weights as the ``ONEMAP_RISK`` tag). Same inputs →
byte-identical files. Everything is staged beside the target and renamed in together.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import rasterio
import rasterio.shutil
import shapely
from numpy.typing import NDArray
from rasterio.io import MemoryFile

from gis.risk.model import LEVEL_CODES, NODATA
from gis.risk.zoning import RiskResult
from layers.io.outputs import parameters_frame, to_files_all_or_nothing
from layers.store.base import Store

SCORE_NAME = "risk_score.tif"
LEVEL_NAME = "risk_level.tif"
GPKG_NAME = "risk.gpkg"
XLSX_NAME = "risk_areas.xlsx"
MAP_NAME = "risk_map.html"
TAG = "ONEMAP_RISK"


def area_labels() -> dict[str, str]:
    """Chinese headers of the per-area table."""
    labels = {"adcode": "行政区划代码", "name": "名称", "level": "级别", "parent_adcode": "上级区划代码", "top_hazards": "主要风险因子"}
    for zh in LEVEL_CODES.values():
        labels[f"area_km2_{zh}"] = f"{zh}风险面积(km²)"
        labels[f"residents_{zh}"] = f"{zh}风险人口(人)"
    return labels


def to_cog(path: Path, array: NDArray[np.generic], result: RiskResult, *, nodata: float, description: str, resampling: str) -> None:
    """One band as a COG with overviews and the run's parameters in its tags."""
    profile = {
        "driver": "GTiff", "width": result.grid.width, "height": result.grid.height, "count": 1, "dtype": array.dtype.name,
        "crs": f"EPSG:{result.grid.epsg}", "transform": result.grid.transform, "nodata": nodata,
    }
    with MemoryFile() as memory:
        with memory.open(**profile) as band:
            band.write(array, 1)
            band.update_tags(**{TAG: json.dumps(result.metadata(), ensure_ascii=False, sort_keys=True)})
            band.set_band_description(1, description)
        with memory.open() as source:
            rasterio.shutil.copy(source, path, driver="COG", compress="DEFLATE", overview_resampling=resampling, blocksize=512)


def _write_gpkg(path: Path, result: RiskResult) -> None:
    if len(result.polygons):
        pyogrio.write_dataframe(result.polygons, path, layer="risk_levels", driver="GPKG", promote_to_multi=True)
    if not result.areas.empty:
        pyogrio.write_dataframe(result.areas, path, layer="area_levels", driver="GPKG")
    metadata = result.metadata()
    table = parameters_frame(metadata)
    pyogrio.write_dataframe(table, path, layer="parameters", driver="GPKG")


def _write_xlsx(path: Path, result: RiskResult) -> None:
    with pd.ExcelWriter(path, engine="openpyxl") as book:
        labels = area_labels()
        for level_name in ("乡镇街道", "区县"):
            rows = result.areas.loc[result.areas["level"] == level_name] if not result.areas.empty else result.areas
            rows.rename(columns=labels).to_excel(book, sheet_name=level_name, index=False)
        metadata = result.metadata()
        parameters_frame(metadata, "参数 parameter", "值 value").to_excel(book, sheet_name="参数", index=False)


def store_level_polygons(store: Store, result: RiskResult) -> int:
    """Upsert the level polygons into the ``risk_zones`` layer (one row per level and grid size,
    replaced by a rerun at the same size), in one transaction. Returns the rows written."""
    if not len(result.polygons):
        return 0
    size = f"{result.grid.resolution_m:g}"
    frame = gpd.GeoDataFrame(
        {
            "source_id": [f"RZ-{size}m-{int(code)}" for code in result.polygons["level_code"]],
            "level": result.polygons["level"].to_numpy(),
            "level_code": result.polygons["level_code"].astype(int).to_numpy(),
            "area_km2": result.polygons["area_km2"].to_numpy(),
            "resolution_m": result.grid.resolution_m,
        },
        geometry=[g if g.geom_type == "MultiPolygon" else shapely.MultiPolygon([g]) for g in result.polygons.geometry],
        crs=4326,
    )
    store.upsert("risk_zones", frame)
    return len(frame)


def to_risk_files(out_dir: str | Path, result: RiskResult, *, render_map: Callable[[RiskResult], str]) -> list[Path]:
    """Write the two COGs, the GeoPackage, the XLSX and the map into ``out_dir``; all or nothing."""
    score = np.where(result.levels == NODATA, np.float32(np.nan), result.score).astype(np.float32)
    return to_files_all_or_nothing(
        out_dir,
        {
            SCORE_NAME: lambda path: to_cog(path, score, result, nodata=float("nan"), description="risk score 0-1", resampling="average"),
            LEVEL_NAME: lambda path: to_cog(path, result.levels, result, nodata=NODATA, description="risk level 1=低 2=一般 3=较大 4=重大", resampling="mode"),
            GPKG_NAME: lambda path: _write_gpkg(path, result),
            XLSX_NAME: lambda path: _write_xlsx(path, result),
            MAP_NAME: lambda path: path.write_text(render_map(result), encoding="utf-8"),
        },
        prefix=".onemap-risk-",
    )
