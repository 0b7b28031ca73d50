"""Ledgers as bureaus publish them import with no hand editing (tests/data/ledgers.py makes them)."""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from layers.settings import Settings
from tests.data import ledgers
from tests.helpers import run_cli, snapshot


@pytest.fixture
def gpkg(tmp_path: Path) -> Settings:
    return Settings(store=str(tmp_path / "store.gpkg"))


def _ok(settings: Settings, *args: str) -> str:
    result = run_cli(settings, *args)
    assert result.exit_code == 0, result.output
    return result.output


def test_reservoir_workbook_with_titles_and_10k_m3(store_settings: Settings, tmp_path: Path) -> None:
    path = ledgers.write_reservoir_workbook(tmp_path)
    output = _ok(store_settings, "import", "reservoirs", str(path))
    assert "header on row 3" in output
    stored = snapshot(store_settings, "reservoirs").set_index("name")
    assert len(stored) == len(ledgers.RESERVOIRS)
    assert "row 8 skipped: a 合计 (total) row" in output
    for name, capacity_10k, limit, lon, _lat, _ in ledgers.RESERVOIRS:
        assert stored.loc[name, "capacity_m3"] == pytest.approx(capacity_10k * 1e4)
        assert stored.loc[name, "flood_limit_level_m"] == pytest.approx(limit)
        assert stored.loc[name].geometry.x == pytest.approx(lon)
    assert stored.loc["尼山水库", "reservoir_class"] == "大(2)型"  # 大（2）型 as written
    assert stored.loc["华村水库", "reservoir_class"] == "大(2)型"  # 大Ⅱ型 as written


def test_shelter_list_with_full_width_pairs_and_standard_names(gpkg: Settings, tmp_path: Path) -> None:
    path = ledgers.write_shelter_list_full_width(tmp_path)
    _ok(gpkg, "import", "shelters", str(path))
    stored = snapshot(gpkg, "shelters").set_index("source_id")
    for sid, _, _, hectares, _, lon, lat in ledgers.SHELTERS:
        assert stored.loc[sid, "effective_area_m2"] == pytest.approx(hectares * 1e4)
        assert stored.loc[sid].geometry.x == pytest.approx(lon) and stored.loc[sid].geometry.y == pytest.approx(lat)
    assert stored["shelter_type"].to_dict() == {"BN-01": "紧急", "BN-02": "固定", "BN-03": "中心", "BN-04": "固定"}
    assert stored["stay_class"].to_dict() == {"BN-01": "Ⅲ", "BN-02": "Ⅱ", "BN-03": "Ⅰ", "BN-04": "Ⅱ"}
    assert stored.loc["BN-02", "capacity_persons"] == 60000  # 9 公顷 = 90,000 m² / 1.5 m² per person


def test_web_map_list_needs_a_kind_and_is_gcj02(gpkg: Settings, tmp_path: Path) -> None:
    path = ledgers.write_web_map_poi_list(tmp_path)
    missing = run_cli(gpkg, "import", "rescue_stations", str(path), "--from", "gcj02")
    assert missing.exit_code == 2
    assert "missing required column(s) for layer rescue_stations: 类型" in missing.output and "--set FIELD=VALUE" in missing.output
    _ok(gpkg, "import", "rescue_stations", str(path), "--from", "gcj02", "--set", "类型=消防救援站")
    stored = snapshot(gpkg, "rescue_stations").set_index("name")
    assert set(stored["kind"]) == {"消防站"}
    for name, lon, lat in ledgers.FIRE_STATIONS:
        assert stored.loc[name].geometry.x == pytest.approx(lon, abs=1e-6)
        assert stored.loc[name].geometry.y == pytest.approx(lat, abs=1e-6)


def test_depot_workbook_levels_and_coordinate_headers(gpkg: Settings, tmp_path: Path) -> None:
    _ok(gpkg, "import", "supply_depots", str(ledgers.write_depot_workbook(tmp_path)))
    stored = snapshot(gpkg, "supply_depots").set_index("source_id")
    assert stored["level"].to_dict() == {"CK-1": "市级", "CK-2": "县级", "CK-3": "乡镇级", "CK-4": "村级"}
    assert stored.loc["CK-3", "name"] == "南张街道应急物资储备点"


def test_urban_roads_keep_declared_length_and_speed(gpkg: Settings, tmp_path: Path) -> None:
    result = run_cli(gpkg, "import", "roads", str(ledgers.write_urban_road_list(tmp_path)))
    assert result.exit_code == 0, result.output
    stored = snapshot(gpkg, "roads").set_index("source_id")
    assert set(stored["road_class"]) == {"城市道路"}
    assert stored["declared_length_m"].to_dict() == {"RD-1": 1200.0, "RD-2": 900.0, "RD-3": 2000.0}
    assert stored["speed_kmh"].to_dict() == {"RD-1": 50.0, "RD-2": 40.0, "RD-3": 30.0}
    assert re.search(r"WARNING row 4 \[RD-3\] 长度\(km\): the ledger's length 2,000 m differs from the geometry's 1,19\d m", result.output)
    assert result.output.count("WARNING") == 1
    from gis.network import graph_from_edges

    graph = graph_from_edges(stored.reset_index(), epsg=4548, class_speed_kmh={})
    times = dict(zip(graph.edge_source_id, graph.edge_time_s, strict=True))
    assert times["RD-3"] == pytest.approx(2000.0 / (30 / 3.6))  # the ledger's length, not the geometry's


def test_surveyors_x_is_northing(gpkg: Settings, tmp_path: Path) -> None:
    result = run_cli(gpkg, "import", "geohazard_points", str(ledgers.write_survey_points(tmp_path)))
    assert result.exit_code == 0, result.output
    assert "surveyors' convention" in result.output and "EPSG:4527" in result.output
    assert "encoding gb18030" in result.output  # written as GBK, read without --encoding
    stored = snapshot(gpkg, "geohazard_points").set_index("source_id")
    for sid, _, _kind, _, lon, lat in ledgers.GEOHAZARDS:
        assert stored.loc[sid].geometry.x == pytest.approx(lon, abs=1e-7)
        assert stored.loc[sid].geometry.y == pytest.approx(lat, abs=1e-7)
    assert stored.loc["DZ-1", "hazard_type"] == "地面塌陷" and stored.loc["DZ-1", "danger_grade"] == "中型"


def test_suspicious_rows_are_written_with_warnings(gpkg: Settings, tmp_path: Path) -> None:
    path = ledgers.write_suspicious_reservoirs(tmp_path)
    report = tmp_path / "report.csv"
    result = run_cli(gpkg, "import", "reservoirs", str(path), "--report", str(report))
    assert result.exit_code == 0, result.output
    lines = pd.read_csv(report, encoding="utf-8-sig", dtype=str)
    assert list(lines.columns) == ["row", "source_id", "field", "severity", "problem"]
    assert set(lines["severity"]) == {"warning"}
    by_row = lines.groupby("row")["problem"].apply(" | ".join).to_dict()
    assert "18,300 m³ looks implausible" in by_row["2"] and "万m³" in by_row["2"]
    assert "as row 3: a placeholder coordinate?" in by_row["4"] and "as row 3: a placeholder coordinate?" in by_row["5"]
    assert "whole degrees" in by_row["3"]
    assert "the same name and point as row 6: a duplicate row?" in by_row["7"]
    assert len(snapshot(gpkg, "reservoirs")) == 6
    assert "6 valid, 0 rejected, " in result.output and "warnings" in result.output


def test_strict_warnings_writes_nothing(gpkg: Settings, tmp_path: Path) -> None:
    path = ledgers.write_suspicious_reservoirs(tmp_path)
    result = run_cli(gpkg, "import", "reservoirs", str(path), "--strict-warnings")
    assert result.exit_code == 1 and "--strict-warnings: nothing was written" in result.output
    assert snapshot(gpkg, "reservoirs").empty


def test_dry_run_prints_mapping_rows_and_report_and_writes_nothing(gpkg: Settings, tmp_path: Path) -> None:
    path = ledgers.write_reservoir_workbook(tmp_path)
    result = run_cli(gpkg, "import", "reservoirs", str(path), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "'总库容(万m³)' → capacity_m3 总库容 (m³)  × 10,000 (万m³ → m³)" in result.output
    assert "'水库名称' → name 名称" in result.output
    assert "capacity_m3 总库容 (m³) = 112800000.0" in result.output and "row 8 skipped" in result.output
    assert "--dry-run: nothing was written" in result.output
    assert snapshot(gpkg, "reservoirs").empty


def test_map_option_takes_labels_units_and_one_column_twice(gpkg: Settings, tmp_path: Path) -> None:
    path = tmp_path / "库容.csv"
    pd.DataFrame({"水库": ["甲", "乙"], "库容万方": ["1830", "250"], "经度": [116.9, 117.0], "纬度": [35.6, 35.5]}).to_csv(path, index=False)
    _ok(gpkg, "import", "reservoirs", str(path), "--map", "水库=source_id", "--map", "水库=名称", "--map", "库容万方=capacity_m3")
    stored = snapshot(gpkg, "reservoirs").set_index("source_id")
    assert stored["name"].to_dict() == {"甲": "甲", "乙": "乙"}
    assert stored["capacity_m3"].to_dict() == {"甲": 1.83e7, "乙": 2.5e6}  # the header's 万方, not m³
    again = tmp_path / "again.gpkg"
    other = Settings(store=str(again))
    _ok(other, "import", "reservoirs", str(path), "--map", "水库=source_id", "--map", "水库=name", "--map", "库容万方=总库容:亿m³")
    assert snapshot(other, "reservoirs").set_index("source_id")["capacity_m3"].to_dict() == {"甲": 1.83e11, "乙": 2.5e10}


def test_header_row_option(gpkg: Settings, tmp_path: Path) -> None:
    path = ledgers.write_reservoir_workbook(tmp_path)
    wrong = run_cli(gpkg, "import", "reservoirs", str(path), "--header-row", "2")
    assert wrong.exit_code == 2 and "missing required column" in wrong.output
    _ok(gpkg, "import", "reservoirs", str(path), "--header-row", "3")


def test_point_exports_carry_lon_lat_and_wkt(gpkg: Settings, tmp_path: Path) -> None:
    _ok(gpkg, "import", "supply_depots", str(ledgers.write_depot_workbook(tmp_path)))
    for suffix in (".csv", ".xlsx"):
        out = tmp_path / f"depots{suffix}"
        _ok(gpkg, "export", "supply_depots", str(out))
        table = pd.read_csv(out, dtype=str) if suffix == ".csv" else pd.read_excel(out, dtype=str)
        assert {"经度", "纬度", "wkt"} <= set(table.columns)
        assert table["wkt"].iloc[0].startswith("POINT (116.6012 35.4123")


def test_fields_guide(gpkg: Settings) -> None:
    output = _ok(gpkg, "layers", "--fields", "reservoirs")
    assert "capacity_m3  总库容 (m³)  [float, 必填 required]" in output
    assert "万m³" in output and "亿m³" in output and "水库名称" in output
    assert "可选值 allowed: 大(1)型, 大(2)型, 中型, 小(1)型, 小(2)型" in output
    help_text = _ok(gpkg, "import", "--help")
    assert "onemap layers --fields LAYER" in help_text and "--dry-run" in help_text


# --- bad input: a clear message, and the store unchanged ------------------------------------------


@pytest.fixture
def seeded(gpkg: Settings, tmp_path: Path) -> gpd.GeoDataFrame:
    path = tmp_path / "seed.csv"
    pd.DataFrame({"编号": ["OLD"], "名称": ["旧水库"], "总库容": [2e6], "经度": [117.05], "纬度": [35.45]}).to_csv(path, index=False)
    _ok(gpkg, "import", "reservoirs", str(path))
    return snapshot(gpkg, "reservoirs")


BAD = [
    ("no header", lambda d: ledgers.write_headerless_workbook(d), [], r"无表头\.xlsx: cannot find the header row: .*--header-row N"),
    ("wrong unit", lambda d: ledgers.write_reservoirs_in_mu(d), [], r"column '总库容\(亩\)': unit 亩 cannot be converted to m³"),
    ("set outside enum", lambda d: ledgers.write_reservoir_workbook(d), ["--set", "dam_type=冰坝"], r"--set dam_type=冰坝: '冰坝' is not one of 土坝, 堆石坝"),
    ("unknown unit in --map", lambda d: ledgers.write_reservoir_workbook(d), ["--map", "总库容(万m³)=capacity_m3:桶"], r"unit '桶' is not one onemap knows"),
]


@pytest.mark.parametrize(("case", "make", "options", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_changes_nothing(case: str, make: object, options: list[str], message: str, gpkg: Settings, seeded: gpd.GeoDataFrame, tmp_path: Path) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    result = run_cli(gpkg, "import", "reservoirs", str(path), *options)
    assert result.exit_code == 2, result.output
    assert re.search(message, result.output), result.output
    assert "Traceback" not in result.output
    after = snapshot(gpkg, "reservoirs")
    pd.testing.assert_frame_equal(pd.DataFrame(seeded.drop(columns="geometry")), pd.DataFrame(after.drop(columns="geometry")))
    assert seeded.geometry.geom_equals_exact(after.geometry, tolerance=0).all()


def test_the_city_outline_warns_and_the_region_refuses(sample_settings: Settings, tmp_path: Path) -> None:
    import shapely
    import shapely.ops

    from layers.city import read_city_profile
    from layers.store import open_store

    with open_store(sample_settings) as store:
        profile = read_city_profile(store)
    assert profile is not None and profile.name == "济宁市"
    x0, y0, x1, y1 = profile.region.bounds
    grid = shapely.points(*np.meshgrid(np.linspace(x0 + 0.01, x1 - 0.01, 40), np.linspace(y0 + 0.01, y1 - 0.01, 40)))
    far = next(p for p in grid.ravel() if profile.region.distance(p) > 0.02)  # in the box, 2 km+ off the region
    edge = shapely.ops.nearest_points(profile.outline.boundary, far)[0]
    step = 2.0 / 111.0 / edge.distance(far)  # about 2 km from the outline toward `far`
    margin = shapely.Point(edge.x + (far.x - edge.x) * step, edge.y + (far.y - edge.y) * step)
    assert profile.region.contains(margin) and not profile.outline.contains(margin)
    assert not profile.region.contains(far) and shapely.box(*profile.region.bounds).contains(far)
    path = tmp_path / "edge.csv"
    pd.DataFrame({"编号": ["E-1", "E-2", "E-3"], "名称": ["边界外2公里", "边界外12公里", "城里"], "级别": ["村级"] * 3,
                  "经度": [margin.x, far.x, 116.6], "纬度": [margin.y, far.y, 35.4]}).to_csv(path, index=False)
    result = run_cli(sample_settings, "import", "supply_depots", str(path))
    assert result.exit_code == 1
    assert re.search(r"WARNING row 2 \[E-1\] 经度: outside 济宁市's outline but within the region's margin", result.output), result.output
    assert re.search(r"ERROR row 3 \[E-2\] 经度: outside the configured region, 济宁市's outline buffered by 5 km", result.output), result.output
    stored = snapshot(sample_settings, "supply_depots").set_index("source_id")
    assert "E-1" in stored.index and "E-3" in stored.index and "E-2" not in stored.index


def test_what_a_newcomer_tripped_over(gpkg: Settings, tmp_path: Path) -> None:
    # 序号 numbers one list's rows: two lists numbered from 1 must not overwrite each other.
    for number, (name, lon) in enumerate((("人民公园", 116.60), ("某小学", 116.70))):
        path = tmp_path / f"list{number}.csv"
        pd.DataFrame({"序号": [1], "名称": [name], "类型": ["紧急"], "经度": [lon], "纬度": [35.4]}).to_csv(path, index=False)
        _ok(gpkg, "import", "shelters", str(path))
    assert sorted(snapshot(gpkg, "shelters")["name"]) == ["人民公园", "某小学"]
    # A road ledger's 长度(m) is its own length, kept (and checked), not the computed one.
    roads = tmp_path / "roads.csv"
    pd.DataFrame({"路段编号": ["R1"], "道路等级": ["县道"], "长度(m)": [5000], "wkt": ["LINESTRING (116.58 35.40, 116.60 35.40)"]}).to_csv(roads, index=False)
    result = run_cli(gpkg, "import", "roads", str(roads))
    assert result.exit_code == 0 and "the ledger's length 5,000 m differs" in result.output, result.output
    assert snapshot(gpkg, "roads")["declared_length_m"].tolist() == [5000.0]
    # Gaode's POI export calls its "lng,lat" column location.
    poi = tmp_path / "poi.csv"
    pd.DataFrame({"name": ["某消防站"], "address": ["某路1号"], "location": ["116.590000,35.410000"], "type": ["消防"]}).to_csv(poi, index=False)
    _ok(gpkg, "import", "rescue_stations", str(poi), "--set", "kind=消防站")
    # Without a city profile, a point outside Jining's default box says to set the city up.
    far = tmp_path / "far.csv"
    pd.DataFrame({"名称": ["郑州某站"], "类型": ["消防站"], "经度": [113.62], "纬度": [34.75]}).to_csv(far, index=False)
    refused = run_cli(gpkg, "import", "rescue_stations", str(far))
    assert refused.exit_code == 1 and "onemap init --boundary FILE" in refused.output
