"""The brief's renderers, read back by real readers: poppler's pdftotext / pdftoppm for the PDF,
openpyxl for the XLSX, Pillow for the map's pixels, pyproj.Geod for the scale bar."""

from __future__ import annotations

import io
import math
import re
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import openpyxl
import pytest
import shapely
from PIL import Image
from pyproj import Geod, Transformer

from layers.errors import InputError
from web.basemap import BasemapData, prepare_basemap, render_basemap_tile
from web.brief import fonts
from web.brief.content import (
    Brief,
    BriefMap,
    BriefTable,
    ClosureLayer,
    LineLayer,
    MapLayer,
    PointLayer,
    ZoneLayer,
    clean_text,
    format_number,
)
from web.brief.map_image import FRAME_PX, ZONE_ALPHA, MapImage, render_map_image
from web.brief.pdf import MAX_CELL_CHARS, render_brief_pdf
from web.brief.workbook import render_brief_xlsx, sheet_names

pytestmark = pytest.mark.xdist_group("brief-render")  # its module fixtures are built once, on one worker (--dist loadgroup)

MADE_AT = datetime(2026, 12, 3, 14, 15, tzinfo=UTC)
"""22:15 in Beijing."""
HOSTILE = ["<script>alert(1)</script>", "'; DROP TABLE x; --", "=1+1", "a&b <b>粗</b> &amp; ]]>"]
LONG_NAME = "济宁市任城区某某街道办事处" * 60
EMOJI_RTL = "🚒🌊 救援 😀 مرحبا עברית"
ZONE_COLOUR = "#ff00ff"
MERCATOR = Transformer.from_crs(4326, 3857, always_xy=True)


def _run(*command: str) -> str:
    """A poppler tool's output; the test skips (with the reason) where poppler-utils is missing."""
    if shutil.which(command[0]) is None:
        pytest.skip(f"{command[0]} not installed: apt-get install poppler-utils")
    run = subprocess.run(command, capture_output=True, check=True, timeout=60)
    return run.stdout.decode("utf-8", "replace")  # pdftotext -bbox writes astral characters' halves apart


def pdf_pages(pdf: bytes, tmp_path: Path, *options: str) -> list[str]:
    """The text of each page, laid out (pdftotext -layout)."""
    path = tmp_path / "brief.pdf"
    path.write_bytes(pdf)
    return _run("pdftotext", "-layout", *options, str(path), "-").split("\f")[:-1]


@pytest.fixture(scope="module")
def basemap() -> BasemapData:
    """A tiny synthetic city west of the lake: its outline, two counties, a lake and three roads."""
    city = shapely.box(116.40, 35.25, 116.80, 35.55)
    admin = gpd.GeoDataFrame({"level": ["市", "区县", "区县", "乡镇街道"], "name": ["市", "西县", "东县", "镇"]},
                             geometry=[city, shapely.box(116.40, 35.25, 116.60, 35.55), shapely.box(116.60, 35.25, 116.80, 35.55), shapely.box(116.5, 35.3, 116.6, 35.4)], crs=4326)
    water = gpd.GeoDataFrame({"name": ["湖"]}, geometry=[shapely.Point(116.72, 35.30).buffer(0.03)], crs=4326)
    roads = gpd.GeoDataFrame({"road_class": ["高速公路", "国道", "乡道"]},
                             geometry=[shapely.LineString([(116.4, 35.4), (116.8, 35.45)]), shapely.LineString([(116.6, 35.25), (116.62, 35.55)]),
                                       shapely.LineString([(116.45, 35.3), (116.55, 35.5)])], crs=4326)
    return prepare_basemap(admin, water, roads)


def _layers() -> list[Any]:
    incident = shapely.Point(116.60, 35.40)
    return [
        ZoneLayer("水深 < 0.5 m", "#9ecae1", incident.buffer(0.05), severity=1),
        ZoneLayer("水深 > 1.5 m", "#08306b", incident.buffer(0.02), severity=3),
        ClosureLayer("封闭区域", "#d62728", shapely.box(116.52, 35.36, 116.55, 35.38)),
        LineLayer("转移路线", "#ff7f00", shapely.LineString([(116.60, 35.40), (116.66, 35.46)])),
        PointLayer("避难场所", "#1a9850", [shapely.Point(116.66, 35.46), shapely.Point(116.55, 35.45)], "square", ["一中避难场所", None]),
        PointLayer("事发地点", "#000000", [incident], "cross", ["溃口"], size_mm=4),
    ]


@pytest.fixture
def make_brief(basemap: BasemapData) -> Callable[..., Brief]:
    """A brief factory: a flood with a map and three tables; keyword arguments override fields."""

    def make(**overrides: Any) -> Brief:
        fields: dict[str, Any] = {
            "title": "尼山水库溃坝洪水应急简报",
            "made_at": MADE_AT,
            "author": "市应急管理局指挥中心",
            "summary": ["受影响人口 12,345 人。", "已开放避难场所 2 处。"],
            "map": BriefMap(_layers(), basemap, caption="淹没范围与避难场所"),
            "tables": [
                BriefTable("受影响乡镇", ["乡镇", "人口", "需转移", "面积 km²", "备注"],
                           [["南埠镇", 12345, 3210, 1234.56, None], ["蒋埠镇", 987654, 0, 0.25, "已转移"]],
                           note="按人口网格面积加权。", decimals={"面积 km²": 2}),
                BriefTable("物资缺口", ["物资", "缺口"], [["帐篷", 1500.0], ["饮用水", float("nan")]]),
                BriefTable("现行道路封闭", ["名称", "原因"], []),
            ],
            "notes": ["淹没范围为模型估算，仅供参考。"],
        }
        return Brief(**{**fields, **overrides})

    return make


def test_pdf_says_what_the_brief_says(make_brief: Callable[..., Brief], tmp_path: Path) -> None:
    pages = pdf_pages(render_brief_pdf(make_brief()), tmp_path)
    text = "\n".join(pages)
    for expected in ("尼山水库溃坝洪水应急简报", "2026年12月03日 22:15（北京时间）", "市应急管理局指挥中心", "受影响人口 12,345 人。",
                     "受影响乡镇", "物资缺口", "现行道路封闭", "淹没范围与避难场所", "审图号：待审", "按人口网格面积加权。", "淹没范围为模型估算"):
        assert expected in text, expected
    assert re.search(r"南埠镇\s+12,345\s+3,210\s+1,234\.56\s+—", text)
    assert re.search(r"蒋埠镇\s+987,654\s+0\s+0\.25\s+已转移", text)
    assert re.search(r"帐篷\s+1,500\.0", text) and re.search(r"饮用水\s+—", text)
    assert re.search(r"现行道路封闭\s+无", text), "an empty table prints 无"
    for number, page in enumerate(pages, start=1):
        assert f"应急一张图 onemap · 第 {number} 页 / 共 {len(pages)} 页" in page


def test_pdf_prints_beijing_time_from_any_zone(make_brief: Callable[..., Brief], tmp_path: Path) -> None:
    made_at = MADE_AT.astimezone(timezone(timedelta(hours=-5)))
    text = "\n".join(pdf_pages(render_brief_pdf(make_brief(made_at=made_at, map=None)), tmp_path))
    assert "2026年12月03日 22:15" in text


def test_long_table_spans_pages_with_its_header_repeated(make_brief: Callable[..., Brief], tmp_path: Path) -> None:
    rows: list[list[Any]] = [[f"行{number:03d}", f"第{number}号乡镇", number * 1000] for number in range(1, 301)]
    brief = make_brief(map=None, tables=[BriefTable("全部乡镇", ["序号列", "名称列", "人口列"], rows)])
    pages = pdf_pages(render_brief_pdf(brief), tmp_path)
    with_rows = [page for page in pages if "行" in page.replace("行政", "")]
    assert len(with_rows) >= 3
    for page in with_rows:
        header, first_row = page.index("序号列"), page.index("行")
        assert header < first_row, "each page's part of the table starts with the header"
        assert re.search(r"序号列\s+名称列\s+人口列", page)
    text = "\n".join(pages)
    assert all(f"行{number:03d}" in text for number in range(1, 301))
    assert re.search(r"行300\s+第300号乡镇\s+300,000", text)


def _words(pdf: bytes, tmp_path: Path) -> list[tuple[float, float, float, float, str]]:
    path = tmp_path / "words.pdf"
    path.write_bytes(pdf)
    html = _run("pdftotext", "-bbox", str(path), "-")
    pattern = r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>'
    return [(float(a), float(b), float(c), float(d), word) for a, b, c, d, word in re.findall(pattern, html)]


def test_hostile_text_is_printed_as_text_inside_the_margins(make_brief: Callable[..., Brief], basemap: BasemapData, tmp_path: Path) -> None:
    nasty = [*HOSTILE, LONG_NAME, EMOJI_RTL, "nul\x00bell\x07", "lone \ud800 surrogate"]
    layers: list[MapLayer] = [ZoneLayer(text, ZONE_COLOUR, shapely.Point(116.6, 35.4).buffer(0.02)) for text in nasty[:2]]
    layers.append(PointLayer("点", "#000000", [shapely.Point(116.6, 35.41)] * len(nasty), texts=nasty))
    brief = make_brief(
        title=" ".join(HOSTILE[:2]) + LONG_NAME, author=EMOJI_RTL, summary=nasty, notes=nasty,
        map=BriefMap(layers, basemap, caption=HOSTILE[0]),
        tables=[BriefTable(text, ["名称", text[:40]], [[text, 1], [LONG_NAME, 2]]) for text in nasty],
    )
    pdf = render_brief_pdf(brief)
    pages = pdf_pages(pdf, tmp_path)
    text = "\n".join(pages)
    for literal in HOSTILE:
        assert literal in text, literal
    assert "救援" in text and "nulbell" in text and "lone ? surrogate" in text
    assert set("مرحبا עברית") - {" "} <= set(text), "the right-to-left letters are printed (from the fallback font)"
    assert LONG_NAME[:MAX_CELL_CHARS - 1] in re.sub(r"\s+", "", text), "a long name wraps, whole up to the cell's limit"
    for number, page in enumerate(pages, start=1):
        assert f"第 {number} 页 / 共 {len(pages)} 页" in page
    margin = 18 / 25.4 * 72 - 1  # 18 mm in points, less 1 pt
    for x_min, _, x_max, _, word in _words(pdf, tmp_path):
        assert margin <= x_min and x_max <= 595.28 - margin, f"{word!r} runs outside the margins ({x_min:.0f}–{x_max:.0f} pt)"
    workbook = openpyxl.load_workbook(io.BytesIO(render_brief_xlsx(brief)))
    cells = {cell.value for sheet in workbook.worksheets[1:] for row in sheet.iter_rows() for cell in row}
    assert set(HOSTILE) | {LONG_NAME, EMOJI_RTL, "nulbell", "lone ? surrogate"} <= cells
    formula = next(cell for sheet in workbook.worksheets[1:] for row in sheet.iter_rows() for cell in row if cell.value == "=1+1")
    assert formula.data_type == "s", "text that looks like a formula stays text"


def test_pdf_page_one_renders_as_an_image(make_brief: Callable[..., Brief], tmp_path: Path) -> None:
    path = tmp_path / "brief.pdf"
    path.write_bytes(render_brief_pdf(make_brief()))
    _run("pdftoppm", "-r", "60", "-png", "-f", "1", "-l", "1", str(path), str(tmp_path / "page"))
    with Image.open(next(tmp_path.glob("page*.png"))) as page:
        assert abs(page.size[0] - 496) <= 1 and abs(page.size[1] - 702) <= 1  # A4 at 60 dpi
        pixels = np.asarray(page.convert("L"))
    assert (pixels < 128).mean() > 0.01, "the page has ink"


def _pixels(image: MapImage) -> np.ndarray:
    with Image.open(io.BytesIO(image.png)) as png:
        assert png.size == (image.width_px, image.height_px)
        return np.asarray(png.convert("RGB")).astype(int)


def _to_px(image: MapImage, lon: float, lat: float) -> tuple[float, float]:
    west, south, east, north = image.extent
    (x0, x1), (y0, y1) = MERCATOR.transform([west, east], [south, north])
    x, y = MERCATOR.transform(lon, lat)
    return (x - x0) / (x1 - x0) * image.width_px, (y1 - y) / (y1 - y0) * image.height_px


def test_the_map_takes_the_basemap_tiles_a_server_kept(basemap: BasemapData) -> None:
    """Given ``tiles`` (as the API passes its wall-map tile cache), the map is stitched from them:
    the same image as tiles drawn here, and a tile handed out is the tile shown."""
    extent = (116.50, 35.35, 116.70, 35.45)
    asked: list[tuple[int, int, int]] = []

    def kept(z: int, x: int, y: int) -> bytes:
        asked.append((z, x, y))
        return render_basemap_tile(basemap, z, x, y)

    drawn = render_map_image(BriefMap([], basemap, extent))
    assert _pixels(render_map_image(BriefMap([], basemap, extent, tiles=kept))).tolist() == _pixels(drawn).tolist()
    assert len(asked) >= 2
    blank = io.BytesIO()
    Image.new("RGB", (256, 256), (255, 0, 255)).save(blank, format="PNG")
    magenta = _pixels(render_map_image(BriefMap([], basemap, extent, tiles=lambda z, x, y: blank.getvalue())))
    assert (magenta == [255, 0, 255]).all(axis=-1).mean() > 0.9, "the tiles handed out are the map, under its scale bar and arrow"
    assert (_pixels(drawn) == [255, 0, 255]).all(axis=-1).mean() == 0


def test_zone_fill_is_where_the_zone_is_and_nowhere_else(basemap: BasemapData) -> None:
    extent = (116.50, 35.35, 116.70, 35.45)
    zone = shapely.box(116.58, 35.38, 116.62, 35.42)
    with_zone = render_map_image(BriefMap([ZoneLayer("区", ZONE_COLOUR, zone)], basemap, extent))
    bare = render_map_image(BriefMap([], basemap, extent))
    assert with_zone.extent == bare.extent
    shown, base = _pixels(with_zone), _pixels(bare)
    left, top = _to_px(with_zone, 116.58, 35.42)
    right, bottom = _to_px(with_zone, 116.62, 35.38)
    colour = np.array([255, 0, 255])
    inside = shown[int(top) + 6: int(bottom) - 6, int(left) + 6: int(right) - 6]
    expected = ZONE_ALPHA * colour + (1 - ZONE_ALPHA) * base[int(top) + 6: int(bottom) - 6, int(left) + 6: int(right) - 6]
    assert inside.size > 3 * 100 * 100
    assert np.abs(inside - expected).max() <= 2, "inside: the zone's colour over the basemap"
    window = (slice(int(0.25 * shown.shape[0]), int(0.75 * shown.shape[0])), slice(int(0.25 * shown.shape[1]), int(0.75 * shown.shape[1])))
    outside = np.ones(shown.shape[:2], dtype=bool)
    outside[int(top) - 6: int(bottom) + 6, int(left) - 6: int(right) + 6] = False
    assert outside[window].sum() > 10000
    assert (shown[window][outside[window]] == base[window][outside[window]]).all(), "outside: the basemap untouched"


def test_legend_leaves_the_footprint_alone_when_fitted(basemap: BasemapData) -> None:
    zone = shapely.Point(116.6, 35.4).buffer(0.08)
    image = render_map_image(BriefMap([ZoneLayer(f"第{k}级", "#3182bd", zone.buffer(-0.01 * k)) for k in range(6)], basemap))
    west, south, east, north = zone.bounds
    (left, top), (right, bottom) = _to_px(image, west, north), _to_px(image, east, south)
    assert 0 < left < right < image.width_px and 0 < top < bottom < image.height_px, "the zone fits"
    assert image.legend_box is not None
    a, b, c, d = image.legend_box
    assert c <= left or a >= right or d <= top or b >= bottom, "the legend is beside the footprint, not on it"


@pytest.mark.parametrize(("centre", "width_deg"), [((109.5, 18.3), 0.3), ((116.6, 35.4), 0.2), ((126.6, 45.7), 1.5), ((122.5, 53.0), 0.05)])
def test_scale_bar_is_true_at_the_centre_latitude(centre: tuple[float, float], width_deg: float) -> None:
    lon, lat = centre
    image = render_map_image(BriefMap([], None, (lon - width_deg / 2, lat - width_deg / 4, lon + width_deg / 2, lat + width_deg / 4)))
    west, south, east, north = image.extent
    (_, y0), (_, y1) = MERCATOR.transform(west, south), MERCATOR.transform(east, north)
    centre_lat = Transformer.from_crs(3857, 4326, always_xy=True).transform(0, (y0 + y1) / 2)[1]
    metres_per_px = Geod(ellps="WGS84").inv(west, centre_lat, east, centre_lat)[2] / image.width_px
    bar = image.scale_bar
    leading, power = f"{bar.metres:.0e}".split("e")
    assert leading in ("1", "2", "5") and float(f"{leading}e{power}") == bar.metres, "a round length"
    assert abs((bar.x1 - bar.x0) * metres_per_px / bar.metres - 1) < 0.02
    pixels = _pixels(image).sum(axis=2)
    assert (pixels[bar.y0, bar.x0: bar.x1 + 1] < 200).all(), "the bar's top edge is inked end to end"
    assert pixels[bar.y0, bar.x0 - 8] > 600 and pixels[bar.y0, bar.x1 + 8] > 600, "and ends there"


def test_map_without_anything_to_fit_is_refused() -> None:
    with pytest.raises(InputError, match="no extent, no layer"):
        render_map_image(BriefMap([], None))


def test_map_default_frame_and_empty_point_kept_beside_its_text(basemap: BasemapData) -> None:
    points = PointLayer("点", "#000000", [shapely.Point(116.6, 35.4), shapely.Point(), shapely.Point(116.62, 35.41)], texts=["甲", "空", "乙"])
    image = render_map_image(BriefMap([points], basemap))
    assert (image.width_px, image.height_px) == FRAME_PX == (1339, 1024)
    assert image.labels_dropped == 0


def test_workbook_reads_back_with_numbers_as_numbers(make_brief: Callable[..., Brief]) -> None:
    brief = make_brief(tables=[*make_brief().tables, BriefTable("受影响乡镇", ["x"], [["同名表"]]), BriefTable("a/b:c*?[d]\\" * 5, ["x"], [])])
    workbook = openpyxl.load_workbook(io.BytesIO(render_brief_xlsx(brief)))
    assert workbook.sheetnames == ["概要", "受影响乡镇", "物资缺口", "现行道路封闭", "受影响乡镇(2)", "a_b_c___d__a_b_c___d__a_b_c___d"]
    summary = [row for row in workbook["概要"].iter_rows(values_only=True)]
    assert summary[0][:2] == ("标题", "尼山水库溃坝洪水应急简报")
    assert summary[1][:2] == ("时间", "2026年12月03日 22:15（北京时间）")
    assert ("编制", "市应急管理局指挥中心") in [row[:2] for row in summary]
    sheet = workbook["受影响乡镇"]
    assert [cell.value for cell in sheet[1]] == ["乡镇", "人口", "需转移", "面积 km²", "备注"]
    assert all(cell.font.bold for cell in sheet[1]) and sheet.freeze_panes == "A2"
    first = [cell for cell in sheet[2]]
    assert [cell.value for cell in first] == ["南埠镇", 12345, 3210, 1234.56, None]
    assert isinstance(first[1].value, int) and first[1].number_format == "#,##0"
    assert isinstance(first[3].value, float) and first[3].number_format == "#,##0.00"
    assert workbook["物资缺口"]["B2"].value == 1500.0 and workbook["物资缺口"]["B3"].value is None
    assert workbook["物资缺口"]["B2"].number_format == "#,##0.0"
    assert workbook["现行道路封闭"]["A2"].value == "无"
    assert sheet.column_dimensions["A"].width >= 8 and sheet.column_dimensions["D"].width >= len("面积 km²") + 2


@pytest.mark.parametrize(("titles", "names"), [
    (["概要"], ["概要(2)"]),
    (["", "  "], ["表1", "表2"]),
    (["'引号'"], ["引号"]),
    (["A", "a"], ["A", "a(2)"]),
    (["History"], ["History(2)"]),
    (["长" * 40, "长" * 40], ["长" * 31, "长" * 28 + "(2)"]),
])
def test_sheet_names_are_valid_and_unique(titles: list[str], names: list[str]) -> None:
    assert sheet_names(titles) == names


@pytest.mark.parametrize(("value", "decimals", "text"), [
    (12345, 1, "12,345"), (1234567.891, 1, "1,234,567.9"), (0.25, 2, "0.25"), (float("nan"), 1, "—"),
    (None, 1, "—"), (np.int64(9876), 1, "9,876"), (float("inf"), 1, "∞"), (-1500, 1, "-1,500"),
])
def test_numbers_are_formatted_with_separators(value: Any, decimals: int, text: str) -> None:
    assert format_number(value, decimals) == text


def test_clean_text_drops_control_characters() -> None:
    assert clean_text("a\x00b\x1bc\nd\te") == "abc d e"
    assert clean_text(None) == "—"


@pytest.mark.parametrize(("build", "message"), [
    (lambda: Brief("t", datetime(2026, 12, 3, 22, 15), "a", [], None, []), "no timezone"),
    (lambda: BriefTable("t", ["a", "b"], [["x"]]), "row 0 has 1 cells for 2 columns"),
    (lambda: BriefTable("t", [], []), "no columns"),
    (lambda: Brief("t", MADE_AT, "a", "一句话", None, []), "summary: a list of sentences"),
    (lambda: BriefTable("t", ["a"], [], decimals={"b": 2}), "b not among its columns"),
    (lambda: ZoneLayer("z", "red", shapely.box(116, 35, 117, 36)), "not #rrggbb"),
    (lambda: ZoneLayer("z", "#ff0000", shapely.box(500000, 3900000, 510000, 3910000)), "not lon/lat degrees"),
    (lambda: PointLayer("p", "#000000", [shapely.Point(116, 35)], "star"), "marker 'star' is not one of"),
    (lambda: PointLayer("p", "#000000", [shapely.Point(116, 35)], texts=["a", "b"]), "2 texts for 1 points"),
    (lambda: PointLayer("p", "#000000", [None]), "item 0 is a NoneType"),  # type: ignore[list-item]
    (lambda: LineLayer("l", "#000000", shapely.LineString([(116, 35), (117, 36)]), width_mm=0), "width_mm 0"),
    (lambda: BriefMap([], None, (117, 35, 116, 36)), "not a \\(west, south, east, north\\)"),
])
def test_wrong_content_is_refused_with_the_reason(build: Callable[[], Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        build()


def test_point_layer_from_a_projected_frame() -> None:
    frame = gpd.GeoDataFrame({"name": ["甲"]}, geometry=[shapely.Point(116.6, 35.4)], crs=4326).to_crs(4548)
    layer = PointLayer.from_frame(frame, label="避难场所", colour="#1a9850", text_column="name")
    assert layer.texts == ["甲"] and math.isclose(layer.points[0].x, 116.6) and math.isclose(layer.points[0].y, 35.4)


def test_missing_cjk_font_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fonts, "KNOWN_FONTS", (("/nonexistent/wqy.ttc", 0),))
    monkeypatch.setattr(fonts, "_fc_list", lambda: [])
    fonts.find_cjk_font.cache_clear()
    try:
        with pytest.raises(fonts.FontNotFoundError, match="apt-get install fonts-wqy-microhei"):
            fonts.find_cjk_font()
    finally:
        fonts.find_cjk_font.cache_clear()
