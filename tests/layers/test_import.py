"""``onemap import`` on real files written by real writers, through the CLI, on both stores."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
import shapely
from pyproj import Transformer
from rasterio.transform import from_origin

from gis.crs import wgs84_to_gcj02
from layers.settings import Settings
from tests.helpers import run_cli, snapshot

SHELTER_ROWS = [
    ("BN-1", "人民广场紧急避难场所", "紧急", 3000.0, 116.5871, 35.4142),
    ("BN-2", "太白湖公园固定避难场所", "固定", 90000.0, 116.5612, 35.3721),
    ("BN-3", "济宁体育中心中心避难场所", "中心", 150000.0, 116.6203, 35.4401),
]


def _dms(value: float, positive: str) -> str:
    degrees = int(value)
    minutes_float = (value - degrees) * 60
    minutes = int(minutes_float)
    seconds = (minutes_float - minutes) * 60
    return f"{degrees}°{minutes}′{seconds:.3f}″{positive}"


def _ledger(rows: list[tuple[object, ...]] | None = None) -> pd.DataFrame:
    rows = rows or SHELTER_ROWS
    return pd.DataFrame(rows, columns=["编号", "名称", "场所类型", "有效避难面积", "经度", "纬度"])


def _write_csv(path: Path, frame: pd.DataFrame, encoding: str = "utf-8") -> Path:
    frame.to_csv(path, index=False, encoding=encoding)
    return path


READ_BEFORE_WRITING = pytest.mark.parametrize("store_kind", ["gpkg"], indirect=True)
"""For what is decided while the file is read, before the store is touched (how a file is parsed,
reprojected, repaired, or refused whole): one store is enough. Writing, and a bad row refusing the
whole import, run on both stores below (and in tests/layers/test_store_contract.py)."""

# --- good files ----------------------------------------------------------------------------------


def test_xlsx_ledger_with_chinese_headers(store_settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "避难场所台账.xlsx"
    _ledger().to_excel(path, index=False, sheet_name="台账")
    result = run_cli(store_settings, "import", "shelters", str(path))
    assert result.exit_code == 0, result.output
    assert "3 new" in result.output
    shelters = snapshot(store_settings, "shelters").set_index("source_id")
    assert shelters.loc["BN-2", "name"] == "太白湖公园固定避难场所"
    assert shelters.loc["BN-2", "shelter_type"] == "固定"
    assert shelters.loc["BN-2", "capacity_persons"] == 60000  # 90,000 m² / 1.5 m² per person
    assert shelters.loc["BN-1"].geometry.equals(shapely.Point(116.5871, 35.4142))
    again = run_cli(store_settings, "import", "shelters", str(path))
    assert again.exit_code == 0 and "0 new, 0 updated, 3 unchanged" in again.output


@READ_BEFORE_WRITING
def test_gcj02_csv_with_dms_strings(store_settings: Settings, tmp_path: Path) -> None:
    lon = np.array([r[4] for r in SHELTER_ROWS])
    lat = np.array([r[5] for r in SHELTER_ROWS])
    gcj_lon, gcj_lat = wgs84_to_gcj02(lon, lat)
    frame = _ledger()
    frame["经度"] = [_dms(v, "E") for v in gcj_lon]
    frame["纬度"] = [_dms(v, "N") for v in gcj_lat]
    path = _write_csv(tmp_path / "gaode.csv", frame)
    result = run_cli(store_settings, "import", "shelters", str(path), "--from", "gcj02")
    assert result.exit_code == 0, result.output
    assert "GCJ02 to WGS 84" in result.output
    stored = snapshot(store_settings, "shelters").set_index("source_id").loc[[r[0] for r in SHELTER_ROWS]]
    # 0.001″ rounding of the 度分秒 strings is about 3 cm; the GCJ-02 shift undone is about 500 m.
    np.testing.assert_allclose(stored.geometry.x, lon, atol=1e-6)
    np.testing.assert_allclose(stored.geometry.y, lat, atol=1e-6)


@READ_BEFORE_WRITING
def test_gbk_shapefile_without_cpg(store_settings: Settings, tmp_path: Path) -> None:
    frame = gpd.GeoDataFrame(
        {"编号": ["S1", "S2"], "名称": ["微山湖避难场所", "曲阜孔庙广场"], "类型": ["固定", "紧急"], "面积": [50000.0, 4000.0]},
        geometry=[shapely.Point(117.12, 34.80), shapely.Point(116.99, 35.59)],
        crs=4326,
    )
    path = tmp_path / "shelters.shp"
    pyogrio.write_dataframe(frame, path, encoding="GBK")
    path.with_suffix(".cpg").unlink(missing_ok=True)
    as_gdal_sees_it = pyogrio.read_dataframe(path)
    assert "微山湖避难场所" not in as_gdal_sees_it.astype(str).to_numpy().ravel(), "GDAL alone must not decode it, or the test proves nothing"
    result = run_cli(store_settings, "import", "shelters", str(path))
    assert result.exit_code == 0, result.output
    assert "GB18030" in result.output
    names = set(snapshot(store_settings, "shelters")["name"])
    assert names == {"微山湖避难场所", "曲阜孔庙广场"}


@READ_BEFORE_WRITING
def test_gauss_kruger_metres_with_zone_prefix_are_recognised(store_settings: Settings, tmp_path: Path) -> None:
    to_4527 = Transformer.from_crs(4326, 4527, always_xy=True)
    frame = _ledger().rename(columns={"经度": "X", "纬度": "Y"})
    frame["X"], frame["Y"] = to_4527.transform([r[4] for r in SHELTER_ROWS], [r[5] for r in SHELTER_ROWS])
    path = _write_csv(tmp_path / "gk.csv", frame)
    result = run_cli(store_settings, "import", "shelters", str(path))
    assert result.exit_code == 0, result.output
    assert "EPSG:4527" in result.output
    stored = snapshot(store_settings, "shelters").set_index("source_id")
    assert stored.loc["BN-3"].geometry.x == pytest.approx(116.6203, abs=1e-8)


@READ_BEFORE_WRITING
def test_column_map_option(store_settings: Settings, tmp_path: Path) -> None:
    frame = _ledger().rename(columns={"有效避难面积": "占地可用", "场所类型": "种类"})
    path = _write_csv(tmp_path / "odd.csv", frame)
    result = run_cli(store_settings, "import", "shelters", str(path), "--map", "占地可用=effective_area_m2", "--map", "种类=shelter_type")
    assert result.exit_code == 0, result.output
    assert snapshot(store_settings, "shelters")["effective_area_m2"].sum() == 243000.0
    bad = run_cli(store_settings, "import", "shelters", str(path), "--map", "种类=kind_of")
    assert bad.exit_code == 2 and "has no field 'kind_of'" in bad.output


@READ_BEFORE_WRITING
def test_geotiff_population(store_settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "pop.tif"
    values = np.array([[0, 10, 20], [30, 0, 50]], dtype="float32")
    with rasterio.open(path, "w", driver="GTiff", width=3, height=2, count=1, dtype="float32", crs="EPSG:4548", transform=from_origin(500000, 3920000, 1000, 1000), nodata=-1) as dataset:
        dataset.write(values, 1)
    result = run_cli(store_settings, "import", "population", str(path))
    assert result.exit_code == 0, result.output
    cells = snapshot(store_settings, "population")
    assert len(cells) == 4 and cells["persons"].sum() == 110
    assert set(cells["cell_size_m"]) == {1000.0}
    area = cells.to_crs(4548).area
    np.testing.assert_allclose(area, 1e6, rtol=1e-6)


@READ_BEFORE_WRITING
def test_invalid_polygon_is_repaired_and_reported(store_settings: Settings, tmp_path: Path) -> None:
    bowtie = shapely.Polygon([(117.0, 35.5), (117.1, 35.6), (117.1, 35.5), (117.0, 35.6)])
    frame = gpd.GeoDataFrame({"source_id": ["F1"], "name": ["蝴蝶区"], "kind": ["易涝区"]}, geometry=[bowtie], crs=4326)
    path = tmp_path / "flood.geojson"
    pyogrio.write_dataframe(frame, path)
    result = run_cli(store_settings, "import", "flood_prone_areas", str(path))
    assert result.exit_code == 0, result.output
    assert "repaired with make_valid" in result.output
    stored = snapshot(store_settings, "flood_prone_areas").geometry.iloc[0]
    assert stored.is_valid and stored.geom_type == "MultiPolygon" and stored.area == pytest.approx(0.005)


ROUND_TRIPS = [
    (layer, suffix)
    for layer in ("reservoirs", "chemical_parks", "roads", "incidents")
    for suffix in (".gpkg", ".geojson", ".shp", ".csv", ".xlsx")
    if (layer, suffix) != ("incidents", ".shp")  # a shapefile has no date-time type
]


@pytest.mark.parametrize(("layer", "suffix"), ROUND_TRIPS)
def test_every_format_round_trips(layer: str, suffix: str, tmp_path: Path, sample_city: dict[str, gpd.GeoDataFrame], empty_gpkg: Path) -> None:
    if layer == "incidents":
        frame = gpd.GeoDataFrame(
            {"source_id": ["I1", "I2"], "name": ["仓库火灾", "内涝"], "kind": ["火灾", "洪涝"], "status": ["处置中", "已结束"],
             "occurred_at": pd.to_datetime(["2026-07-01T08:30:00.250Z", None], utc=True), "description": ["含\"引号\", 逗号", None]},
            geometry=[shapely.Point(116.6, 35.4), shapely.Point(116.3, 35.1)], crs=4326,
        )
    else:
        frame = sample_city[layer].head(300).copy()
    for name in ("a.gpkg", "b.gpkg"):
        shutil.copy(empty_gpkg, tmp_path / name)
    source = Settings(store=str(tmp_path / "a.gpkg"))
    target = Settings(store=str(tmp_path / "b.gpkg"))
    from layers.store import open_store

    with open_store(source) as store:
        store.upsert(layer, frame)
    exported = tmp_path / f"out{suffix}"
    assert run_cli(source, "export", layer, str(exported)).exit_code == 0
    result = run_cli(target, "import", layer, str(exported))
    assert result.exit_code == 0, result.output
    before, after = snapshot(source, layer), snapshot(target, layer)
    pd.testing.assert_frame_equal(pd.DataFrame(before.drop(columns="geometry")), pd.DataFrame(after.drop(columns="geometry")))
    assert before.geometry.geom_equals_exact(after.geometry, tolerance=0).all()
    if suffix == ".shp":
        assert exported.with_suffix(".cpg").read_text().strip().upper() in {"UTF-8", "UTF8"}


# --- bad files -----------------------------------------------------------------------------------

BadFile = Callable[[Path], Path]


def _csv_rows(*rows: tuple[object, ...]) -> BadFile:
    return lambda d: _write_csv(d / "bad.csv", _ledger([SHELTER_ROWS[0], *rows]))


def _raw(name: str, data: bytes) -> BadFile:
    def make(directory: Path) -> Path:
        path = directory / name
        path.write_bytes(data)
        return path

    return make


FILE_ERRORS = [
    ("empty", _raw("empty.csv", b""), [], r"empty\.csv: the file is empty"),
    ("header only", _raw("header.csv", "编号,名称,场所类型,有效避难面积,经度,纬度\n".encode()), [], r"header\.csv: has a header but no data rows"),
    ("missing column", lambda d: _write_csv(d / "nocol.csv", _ledger().drop(columns=["场所类型"])), [], r"nocol\.csv: missing required column\(s\) for layer shelters: 类型"),
    ("no coordinates", lambda d: _write_csv(d / "nocoord.csv", _ledger().drop(columns=["经度", "纬度"])), [], r"nocoord\.csv: no coordinate columns"),
    ("undecodable", _raw("gbk.csv", "编号,名称\n".encode() + b"\xff\xff\x80,x\n"), [], r"gbk\.csv: cannot decode the text as utf-8-sig or gb18030"),
    ("unknown encoding", _csv_rows(), ["--encoding", "martian"], r"unknown text encoding 'martian'"),
    ("corrupt gpkg", _raw("broken.gpkg", b"SQLite format 3\x00" + bytes(range(256)) * 8), [], r"broken\.gpkg: not a readable GIS file"),
    ("corrupt xlsx", _raw("broken.xlsx", b"PK\x03\x04 this is not a workbook"), [], r"broken\.xlsx: not a readable \.xlsx workbook"),
    ("missing file", lambda d: d / "nowhere.csv", [], r"nowhere\.csv: file not found"),
    ("unknown crs", _csv_rows(), ["--crs", "EPSG:999999"], r"--crs 'EPSG:999999' is not a CRS"),
]

ROW_ERRORS = [
    ("text in number", _csv_rows(("BN-9", "某广场", "紧急", "很大", 116.6, 35.4)), r"bad\.csv: ERROR row 3 \[BN-9\] 有效避难面积: text '很大' in a number field"),
    ("swapped", _csv_rows(("BN-9", "某广场", "紧急", 3000, 35.4, 116.6)), r"bad\.csv: ERROR row 3 \[BN-9\] 经度: coordinates look swapped"),
    ("out of China", _csv_rows(("BN-9", "巴黎", "紧急", 3000, 2.35, 48.85)), r"bad\.csv: ERROR row 3 \[BN-9\] 经度: outside China"),
    ("outside region", _csv_rows(("BN-9", "北京", "紧急", 3000, 116.39, 39.9)), r"bad\.csv: ERROR row 3 \[BN-9\] 经度: outside the configured region"),
    ("bad enum", _csv_rows(("BN-9", "某广场", "超大", 3000, 116.6, 35.4)), r"bad\.csv: ERROR row 3 \[BN-9\] 场所类型: '超大' is not one of 紧急, 固定, 中心"),
    ("bad dms", _csv_rows(("BN-9", "某广场", "紧急", 3000, "116度75分", 35.4)), r"bad\.csv: ERROR row 3 经度: minutes and seconds must be below 60"),
    ("negative area", _csv_rows(("BN-9", "某广场", "紧急", -5, 116.6, 35.4)), r"bad\.csv: ERROR row 3 \[BN-9\] 有效避难面积: -5.0 is below the minimum 0 m²"),
    ("duplicate id", _csv_rows(("BN-1", "重复", "紧急", 3000, 116.6, 35.4)), r"bad\.csv: ERROR row 3 \[BN-1\] 编号: duplicate source_id: row 2 has it too"),
    ("empty id", _csv_rows((None, "无编号", "紧急", 3000, 116.6, 35.4)), r"bad\.csv: ERROR row 3 编号: source_id \(编号\) is empty"),
    ("NUL in text", _csv_rows(("BN-9", "某\x00广场", "紧急", 3000, 116.6, 35.4)), r"bad\.csv: ERROR row 3 \[BN-9\] 名称: text contains a NUL character"),
]


@pytest.fixture
def populated(store_settings: Settings, tmp_path: Path) -> gpd.GeoDataFrame:
    """The store holds a few shelters before each bad import; returns them as read."""
    seed = tmp_path / "seed.csv"
    _write_csv(seed, _ledger([("OLD-1", "旧场所", "固定", 20000.0, 116.4, 35.3)]))
    assert run_cli(store_settings, "import", "shelters", str(seed)).exit_code == 0
    return snapshot(store_settings, "shelters")


def _unchanged(store_settings: Settings, before: gpd.GeoDataFrame) -> None:
    after = snapshot(store_settings, "shelters")
    pd.testing.assert_frame_equal(pd.DataFrame(before.drop(columns="geometry")), pd.DataFrame(after.drop(columns="geometry")))
    assert before.geometry.geom_equals_exact(after.geometry, tolerance=0).all()


@READ_BEFORE_WRITING
@pytest.mark.parametrize(("case", "make", "options", "message"), FILE_ERRORS, ids=[c[0] for c in FILE_ERRORS])
def test_unimportable_files(case: str, make: BadFile, options: list[str], message: str, store_settings: Settings, populated: gpd.GeoDataFrame, tmp_path: Path) -> None:
    path = make(tmp_path)
    result = run_cli(store_settings, "import", "shelters", str(path), *options)
    assert result.exit_code == 2, result.output
    assert re.search(message, result.output), result.output
    assert "Traceback" not in result.output
    _unchanged(store_settings, populated)


@pytest.mark.parametrize(("case", "make", "message"), ROW_ERRORS, ids=[c[0] for c in ROW_ERRORS])
def test_bad_rows_strict_writes_nothing(case: str, make: BadFile, message: str, store_settings: Settings, populated: gpd.GeoDataFrame, tmp_path: Path) -> None:
    path = make(tmp_path)
    report = tmp_path / "report.csv"
    result = run_cli(store_settings, "import", "shelters", str(path), "--strict", "--report", str(report))
    assert result.exit_code == 1, result.output
    assert re.search(message, result.output), result.output
    assert "nothing written" in result.output
    _unchanged(store_settings, populated)
    lines = pd.read_csv(report, encoding="utf-8-sig", dtype=str)
    assert list(lines.columns) == ["row", "source_id", "field", "severity", "problem"]
    assert (lines["row"] == "3").any()


def test_bad_rows_default_keeps_the_good_ones(store_settings: Settings, populated: gpd.GeoDataFrame, tmp_path: Path) -> None:
    path = _csv_rows(("BN-9", "某广场", "紧急", "很大", 116.6, 35.4))(tmp_path)
    result = run_cli(store_settings, "import", "shelters", str(path))
    assert result.exit_code == 1
    assert "2 rows read, 1 valid, 1 rejected; written: 1 new" in result.output
    assert set(snapshot(store_settings, "shelters")["source_id"]) == {"OLD-1", "BN-1"}


def test_unknown_layer_is_a_usage_error(store_settings: Settings, tmp_path: Path) -> None:
    result = run_cli(store_settings, "import", "volcanoes", str(tmp_path / "x.csv"))
    assert result.exit_code == 2 and "volcanoes" in result.output
