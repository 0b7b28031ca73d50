"""Coverage results as files: a GeoPackage (cells, gaps, shelters with load, per-area tables, new
sites, parameters), an XLSX of the per-area tables with Chinese headers, and the folium map.

Every file is written into a temporary folder beside the target and renamed into place only when
all of them are complete: a failed run leaves no partial output.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from gis.coverage import CoverageResult, SitingResult
from layers.io.outputs import parameters_frame, to_files_all_or_nothing

GPKG_NAME = "coverage.gpkg"
XLSX_NAME = "coverage_townships.xlsx"
MAP_NAME = "coverage_map.html"

COLUMN_LABELS_ZH = {
    "adcode": "行政区划代码",
    "name": "名称",
    "level": "级别",
    "parent_adcode": "上级区划代码",
    "residents": "常住人口(人)",
    "residents_covered": "覆盖人口(人)",
    "residents_uncovered": "未覆盖人口(人)",
    "covered_pct": "覆盖率(%)",
    "demand_persons": "需避难人数(人)",
    "shelters": "避难场所(处)",
    "capacity_persons": "容纳能力(人)",
    "capacity_shortfall_persons": "容量缺口(人)",
    "shelter_area_m2": "有效避难面积(m²)",
    "shelter_m2_per_resident": "人均避难面积(m²/人)",
    "unplaced_persons": "无法安置人数(人)",
    "source_id": "编号",
    "shelter_type": "类型",
    "reach_min": "服务半径(步行分钟)",
    "residents_in_reach": "服务范围内人口(人)",
    "catchment_residents": "责任区人口(人)",
    "catchment_demand": "责任区需避难人数(人)",
    "load_ratio": "负荷率(需求/容量)",
    "assigned_persons": "分配安置人数(人)",
    "assigned_load_ratio": "分配后负荷率",
    "area_m2": "有效避难面积(m²)",
    "on_network": "可步行到达",
    "township": "乡镇街道",
    "county_adcode": "所属区县代码",
    "township_adcode": "所属乡镇代码",
    "rank": "排名",
    "site_type": "拟建类型",
    "residents_newly_covered": "新增覆盖人口(人)",
    "uncovered_residents_in_reach": "范围内未覆盖人口(人)",
    "gap_id": "缺口编号",
    "cells": "网格数",
    "nearest_shelter_min": "最近避难场所(步行分钟)",
}
AREA_COLUMNS = [
    "adcode", "name", "parent_adcode", "residents", "residents_covered", "residents_uncovered", "covered_pct",
    "demand_persons", "shelters", "capacity_persons", "capacity_shortfall_persons", "shelter_area_m2",
    "shelter_m2_per_resident", "unplaced_persons",
]
SHELTER_COLUMNS = [
    "source_id", "name", "shelter_type", "capacity_persons", "area_m2", "reach_min", "residents_in_reach",
    "catchment_residents", "catchment_demand", "load_ratio", "assigned_persons", "assigned_load_ratio", "on_network",
]


def labelled(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``columns`` of ``frame`` (those present) with Chinese headers."""
    present = [c for c in columns if c in frame]
    return pd.DataFrame(frame[present]).rename(columns=COLUMN_LABELS_ZH)


def area_rows(result: CoverageResult, level: str) -> pd.DataFrame:
    """The per-area table of one level (区县 or 乡镇街道), no geometry."""
    if result.areas.empty:
        return pd.DataFrame(columns=AREA_COLUMNS)
    rows = result.areas.loc[result.areas["level"] == level]
    return pd.DataFrame(rows.drop(columns="geometry")).reset_index(drop=True)


def _write_gpkg(path: Path, result: CoverageResult, siting: SitingResult | None) -> None:
    layers: dict[str, gpd.GeoDataFrame | pd.DataFrame] = {
        "cells": result.cells,
        "gaps": result.gaps,
        "shelters": result.shelters,
        "townships": result.areas.loc[result.areas["level"] == "乡镇街道"] if not result.areas.empty else result.areas,
        "counties": result.areas.loc[result.areas["level"] == "区县"] if not result.areas.empty else result.areas,
    }
    if siting is not None:
        layers["new_sites"] = siting.sites
    for name, frame in layers.items():
        if isinstance(frame, gpd.GeoDataFrame) and len(frame):
            pyogrio.write_dataframe(frame, path, layer=name, driver="GPKG", promote_to_multi=name in ("gaps", "townships", "counties"))
    metadata = {**result.metadata(), "notes": result.notes}
    if siting is not None:
        metadata["siting"] = {
            "model": siting.solution.model,
            "objective": siting.solution.objective,
            "mip_gap": siting.solution.mip_gap,
            "candidates": siting.candidates,
            "solver_status": siting.solution.status,
        }
    table = parameters_frame(metadata)
    pyogrio.write_dataframe(table, path, layer="parameters", driver="GPKG")


def _write_xlsx(path: Path, result: CoverageResult, siting: SitingResult | None) -> None:
    with pd.ExcelWriter(path, engine="openpyxl") as book:
        labelled(area_rows(result, "乡镇街道"), AREA_COLUMNS).to_excel(book, sheet_name="乡镇街道", index=False)
        labelled(area_rows(result, "区县"), AREA_COLUMNS).to_excel(book, sheet_name="区县", index=False)
        labelled(pd.DataFrame(result.shelters), SHELTER_COLUMNS).to_excel(book, sheet_name="避难场所负荷", index=False)
        if siting is not None:
            labelled(pd.DataFrame(siting.sites.drop(columns="geometry")), list(siting.sites.columns)).to_excel(book, sheet_name="建议新建", index=False)
        parameters = {**result.metadata(), "notes": result.notes}
        parameters_frame(parameters, "参数 parameter", "值 value").to_excel(book, sheet_name="参数", index=False)


def to_coverage_files(out_dir: str | Path, result: CoverageResult, *, siting: SitingResult | None = None, render_map: Callable[[CoverageResult, SitingResult | None], str]) -> list[Path]:
    """Write the GeoPackage, the XLSX and the map (``render_map`` returns its HTML) into
    ``out_dir``; all or nothing. Returns the written paths."""
    return to_files_all_or_nothing(
        out_dir,
        {
            GPKG_NAME: lambda path: _write_gpkg(path, result, siting),
            XLSX_NAME: lambda path: _write_xlsx(path, result, siting),
            MAP_NAME: lambda path: path.write_text(render_map(result, siting), encoding="utf-8"),
        },
        prefix=".onemap-coverage-",
    )
