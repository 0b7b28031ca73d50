"""The team's own ledgers, in the forms Chinese bureaus and map services publish them.

Each ``write_*`` writes one file with a real writer (openpyxl, csv) into a folder and returns its
path; the rows are fixed (no randomness), so the tests can state the answers. What real form each
imitates is in tests/data/README.md. All points lie in Jining (the default region).
"""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
from pyproj import Transformer

from gis.crs import wgs84_to_gcj02

RESERVOIRS = [
    # name, capacity in 万m³, flood-limit level m, lon, lat, class as written
    ("尼山水库", 11280.0, 121.63, 117.2234, 35.4871, "大（2）型"),
    ("西苇水库", 8780.0, 101.5, 117.1103, 35.3402, "中型"),
    ("华村水库", 10230.0, 160.5, 117.4412, 35.6803, "大Ⅱ型"),
    ("龙湾套水库", 1830.0, 180.0, 117.5021, 35.6012, "中型"),
]
"""Real names of Jining reservoirs; capacities and positions as the sample city has them, roughly."""


def write_reservoir_workbook(folder: Path) -> Path:
    """XLSX with a merged title row and a unit note above the header, 万m³ capacities,
    ``水库名称`` / ``经度(°)`` / ``纬度（N）`` headers and full-width brackets in the classes."""
    path = folder / "济宁市水库名录.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "水库名录"
    sheet.append(["济宁市大中型水库基本情况表"])
    sheet.merge_cells("A1:H1")
    sheet.append(["填报单位：济宁市水务局", None, None, None, "填报日期：2026年5月"])
    sheet.append(["序号", "水库名称", "总库容(万m³)", "汛限水位（m）", "工程规模", "经度(°)", "纬度（N）", "备注"])
    for number, (name, capacity, limit, lon, lat, grade) in enumerate(RESERVOIRS, start=1):
        sheet.append([number, name, capacity, limit, grade, lon, lat, None])
    sheet.append(["合计", None, sum(r[1] for r in RESERVOIRS)])
    book.save(path)
    return path


SHELTERS = [
    # id, name, type as written, area in 公顷, stay class as written, lon, lat
    ("BN-01", "人民广场", "紧急避难场所", 0.3, "Ⅲ类", 116.5871, 35.4142),
    ("BN-02", "太白湖公园", "固定避难场所", 9.0, "II", 116.5612, 35.3721),
    ("BN-03", "济宁体育中心", "中心避难场所", 15.0, "1", 116.6203, 35.4401),
    ("BN-04", "兖州区文化广场", "短期固定避难场所", 2.25, "二类", 116.8305, 35.5521),
]


def _full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def write_shelter_list_full_width(folder: Path) -> Path:
    """CSV copied from a Word table: ``避难场所名称``, the full standard type names, 公顷 areas,
    Roman/Arabic/Chinese numerals for the stay class, and one 经纬度 column in full-width digits
    with a full-width comma."""
    path = folder / "应急避难场所名单.csv"
    with path.open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow(["编号", "避难场所名称", "避难场所类型", "有效避难面积（公顷）", "类别", "经纬度"])
        for sid, name, kind, hectares, stay, lon, lat in SHELTERS:
            pair = f"{lon} {lat}" if sid == "BN-04" else f"{lon},{lat}"  # one row space-separated
            writer.writerow([sid, name, kind, _full_width(f"{hectares}"), stay, _full_width(pair)])
    return path


FIRE_STATIONS = [
    # name, WGS 84 lon, lat (copied from a web map, so written in GCJ-02)
    ("济宁市消防救援支队特勤站", 116.5902, 35.4055),
    ("任城区消防救援大队", 116.5951, 35.4301),
    ("曲阜市消防救援大队", 116.9862, 35.5811),
]


def write_web_map_poi_list(folder: Path) -> Path:
    """CSV exported from a web map's POI search: 名称, 地址, and one ``经纬度`` column
    "lon,lat" in GCJ-02; no kind column (the import must say --set kind=…)."""
    path = folder / "高德POI导出.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["名称", "地址", "经纬度"])
        for name, lon, lat in FIRE_STATIONS:
            gcj_lon, gcj_lat = wgs84_to_gcj02(lon, lat)
            writer.writerow([name, "山东省济宁市", f"{float(gcj_lon):.6f},{float(gcj_lat):.6f}"])
    return path


DEPOTS = [
    ("CK-1", "济宁市应急物资储备库", "市级储备库", 116.6012, 35.4123),
    ("CK-2", "兖州区应急物资储备库", "区县级", 116.8301, 35.5502),
    ("CK-3", "南张街道应急物资储备点", "乡镇（街道）级", 116.6555, 35.3611),
    ("CK-4", "某村应急物资储备点", "村（社区）级", 116.7011, 35.3822),
]


def write_depot_workbook(folder: Path) -> Path:
    """XLSX with ``储备库名称``, level names as the depots' own titles (市级储备库, 乡镇（街道）级)
    and ``经度坐标``/``纬度坐标`` headers."""
    path = folder / "应急物资储备库.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["储备库编号", "储备库名称", "级别", "主要物资", "经度坐标", "纬度坐标"])
    for sid, name, level, lon, lat in DEPOTS:
        sheet.append([sid, name, level, "帐篷、棉被、折叠床", lon, lat])
    book.save(path)
    return path


ROADS = [
    # id, class as written (CJJ 37), length in km as the ledger says, speed km/h, WKT
    ("RD-1", "主干路", 1.2, 50, "LINESTRING (116.58 35.40, 116.5932 35.40)"),
    ("RD-2", "城市次干路", 0.9, 40, "LINESTRING (116.5932 35.40, 116.5932 35.4081)"),
    ("RD-3", "支路", 2.0, 30, "LINESTRING (116.5932 35.4081, 116.58 35.4081)"),
]
"""RD-3's ledger length (2.0 km) is 1.7× its geometry's (about 1.2 km): a warning."""


def write_urban_road_list(folder: Path) -> Path:
    """CSV of urban road sections: CJJ 37 classes with and without 城市, ``长度(km)``,
    ``设计速度(km/h)`` and WKT geometry."""
    path = folder / "城市道路.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["路段编号", "道路等级", "长度(km)", "设计速度(km/h)", "wkt"])
        writer.writerows(ROADS)
    return path


GEOHAZARDS = [
    ("DZ-1", "唐口街道采煤塌陷区", "采空塌陷", "中型险情", 116.5531, 35.3321),
    ("DZ-2", "尼山镇崩塌隐患点", "崩塌", "小型", 117.1912, 35.4902),
]


def write_survey_points(folder: Path) -> Path:
    """CSV of geohazard points surveyed in CGCS2000 Gauss-Krüger zone 39 (EPSG:4527) with the
    surveyors' axes: X = northing, Y = easting with the zone prefix."""
    to_gk = Transformer.from_crs(4326, 4527, always_xy=True)
    path = folder / "地质灾害隐患点坐标.csv"
    with path.open("w", newline="", encoding="gbk") as handle:
        writer = csv.writer(handle)
        writer.writerow(["隐患点编号", "隐患点名称", "灾害类型", "险情等级", "X", "Y"])
        for sid, name, kind, grade, lon, lat in GEOHAZARDS:
            easting, northing = to_gk.transform(lon, lat)
            writer.writerow([sid, name, kind, grade, f"{northing:.3f}", f"{easting:.3f}"])
    return path


def write_suspicious_reservoirs(folder: Path) -> Path:
    """CSV with problems that import but must be warned about: a capacity in 万m³ under a m³
    header (18,300 "m³"), three rows at the same placeholder point, a duplicated row, and a
    point at whole degrees."""
    path = folder / "水库_待核实.csv"
    rows = [
        ("SK-1", "尹城水库", "18300", 116.9012, 35.6021),
        ("SK-2", "甲水库", "2500000", 117.0, 35.0),
        ("SK-3", "乙水库", "3100000", 117.0, 35.0),
        ("SK-4", "丙水库", "1200000", 117.0, 35.0),
        ("SK-5", "丁水库", "5300000", 116.7713, 35.2214),
        ("SK-6", "丁水库", "5300000", 116.7713, 35.2214),
    ]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["编号", "名称", "总库容(m³)", "经度", "纬度"])
        writer.writerows(rows)
    return path


def write_headerless_workbook(folder: Path) -> Path:
    """XLSX whose header cannot be found: notes and numbers only."""
    path = folder / "无表头.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["本表由各县区汇总"])
    for row in ([1, 2, 3], [4, 5, 6], [7, 8, 9]):
        sheet.append(row)
    book.save(path)
    return path


def write_reservoirs_in_mu(folder: Path) -> Path:
    """CSV whose capacity header carries a unit of the wrong kind (亩 is an area)."""
    path = folder / "水库_面积单位.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["编号", "水库名称", "总库容(亩)", "经度", "纬度"])
        writer.writerow(["X-1", "某水库", "120", 117.1, 35.5])
    return path
