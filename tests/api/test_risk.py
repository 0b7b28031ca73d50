"""Risk zoning through the CLI on the sample city: COGs (valid, tagged, byte-identical on a rerun),
GeoPackage, XLSX, the offline map in Chromium, and bad configs refused with nothing written."""

from __future__ import annotations

import hashlib
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pytest
import rasterio

from layers.settings import Settings
from tests.helpers import run_cli, when_ready

pytestmark = pytest.mark.xdist_group("risk")  # its module fixtures are built once, on one worker (--dist loadgroup)


@pytest.fixture(scope="module")
def risk_run(sample_gpkg: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Path, str]:
    import shutil

    folder = tmp_path_factory.mktemp("risk")
    store = folder / "store.gpkg"
    shutil.copy(sample_gpkg, store)
    settings = Settings(store=str(store))
    result = run_cli(settings, "risk", "--resolution", "250", "--out", str(folder / "out"))
    assert result.exit_code == 0, result.output
    return settings, folder / "out", result.output


def test_risk_cli_writes_tagged_cogs_and_tables(risk_run: tuple[Settings, Path, str]) -> None:
    _, out, output = risk_run
    assert "重大" in output and "路网行车时间" in output and "stored 4 level polygons in layer risk_zones" in output
    assert sorted(p.name for p in out.iterdir()) == ["risk.gpkg", "risk_areas.xlsx", "risk_level.tif", "risk_map.html", "risk_score.tif"]
    with rasterio.open(out / "risk_level.tif") as levels:
        assert levels.crs.to_epsg() == 4548 and levels.nodata == 0 and levels.dtypes[0] == "uint8"
        assert levels.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG" and levels.overviews(1)
        assert '"formula"' in levels.tags()["ONEMAP_RISK"] and '"weights"' in levels.tags()["ONEMAP_RISK"]
        data = levels.read(1)
        assert set(np.unique(data)) == {0, 1, 2, 3, 4}
    with rasterio.open(out / "risk_score.tif") as score:
        values = score.read(1)
        assert score.dtypes[0] == "float32" and np.isnan(values[data == 0]).all()
        assert np.nanmin(values) >= 0 and np.nanmax(values) <= 1
    polygons = gpd.read_file(out / "risk.gpkg", layer="risk_levels")
    assert sorted(polygons["level"]) == sorted(["低", "一般", "较大", "重大"])
    book = openpyxl.load_workbook(out / "risk_areas.xlsx", read_only=True)
    header = [c.value for c in next(book["乡镇街道"].iter_rows(max_row=1))]
    assert "重大风险人口(人)" in header and "主要风险因子" in header and book["乡镇街道"].max_row == 157


def test_risk_level_polygons_are_in_the_store(risk_run: tuple[Settings, Path, str]) -> None:
    from layers.store import open_store

    settings, out, _ = risk_run
    with open_store(settings) as store:
        zones = store.read("risk_zones")
    assert sorted(zones["level_code"]) == [1, 2, 3, 4] and set(zones["resolution_m"]) == {250.0}
    files = gpd.read_file(out / "risk.gpkg", layer="risk_levels")
    assert zones.set_index("level_code")["area_km2"].sort_index().to_numpy() == pytest.approx(files.set_index("level_code")["area_km2"].sort_index().to_numpy())


def test_risk_rasters_are_byte_identical_on_a_rerun(risk_run: tuple[Settings, Path, str], tmp_path: Path) -> None:
    settings, out, _ = risk_run
    again = run_cli(settings, "risk", "--resolution", "250", "--out", str(tmp_path))
    assert again.exit_code == 0, again.output
    for name in ("risk_level.tif", "risk_score.tif"):
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == hashlib.sha256((tmp_path / name).read_bytes()).hexdigest(), name


def test_risk_map_draws_offline(browser, risk_run: tuple[Settings, Path, str]) -> None:  # type: ignore[no-untyped-def]
    _, out, _ = risk_run
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    outside: list[str] = []
    errors: list[str] = []
    page.on("request", lambda request: outside.append(request.url) if not request.url.startswith(("file:", "data:")) else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto((out / "risk_map.html").as_uri())
    page.wait_for_selector("path.onemap-risk-level")
    assert page.locator("path.onemap-risk-level").count() >= 4
    assert page.locator("path.onemap-hazard").count() == 248 + 42 + 7 + 101
    assert "重大" in page.locator("#onemap-legend").inner_text()
    page.screenshot(path=str(out.parent / "risk.png"))
    page.close()
    assert errors == [] and outside == []
    from PIL import Image

    pixels = np.asarray(Image.open(out.parent / "risk.png").convert("RGB")).astype(int)
    red = (pixels[:, :, 0] > 200) & (pixels[:, :, 1] < 80) & (pixels[:, :, 2] < 80)
    assert red.sum() > 100, "重大 areas are drawn in red"


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ("weights: {volcanoes: 1}\n", "unknown factors ['volcanoes']"),
        ("weights: {reservoirs: -1}\n", "must be a number ≥ 0"),
        ("ahp:\n  factors: [reservoirs, flood_prone_areas, capacity]\n  matrix: [[1, 9, 0.111], [0.111, 1, 9], [9, 0.111, 1]]\n", "conflict most on"),
        ("weights: [1, 2\n", "not valid YAML"),
    ],
)
def test_bad_config_exits_2_and_writes_nothing(risk_run: tuple[Settings, Path, str], tmp_path: Path, config: str, words: str) -> None:
    settings, _, _ = risk_run
    path = tmp_path / "risk.yaml"
    path.write_text(config, encoding="utf-8")
    result = run_cli(settings, "risk", "--config", str(path), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert str(path) in result.output and words in result.output
    assert not (tmp_path / "out").exists()


# --- HTTP -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def risk_client(risk_run: tuple[Settings, Path, str]):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from api.main import create_app

    settings, _, _ = risk_run
    with TestClient(create_app(settings.model_copy(update={"risk_resolution_m": 250.0}))) as client:
        yield client


def test_risk_summary_and_point_query(risk_client) -> None:  # type: ignore[no-untyped-def]
    body = when_ready(lambda: risk_client.get("/risk/summary")).json()
    assert set(body["totals"]) == {"低", "一般", "较大", "重大"}
    # Cells whose centre lies outside the city boundary are not zoned: a few residents on the edge.
    assert sum(v["residents"] for v in body["totals"].values()) == pytest.approx(8_300_000, rel=5e-3)
    assert len(body["townships"]) == 156 and len(body["counties"]) == 11
    assert body["parameters"]["formula"].startswith("score = E × V")
    point = when_ready(lambda: risk_client.get("/risk/at", params={"lon": 116.59, "lat": 35.41})).json()
    assert point["level"] in ("低", "一般", "较大", "重大")
    assert sum(point["contributions"].values()) == pytest.approx(point["score"], rel=1e-5)
    assert when_ready(lambda: risk_client.get("/risk/at", params={"lon": 110.0, "lat": 35.0})).status_code == 400
    assert when_ready(lambda: risk_client.get("/risk/at", params={"lon": 999, "lat": 35.0})).status_code == 422


def test_risk_tiles_use_the_official_colours(risk_client) -> None:  # type: ignore[no-untyped-def]
    import io

    from PIL import Image

    from gis.grades import RISK_LEVEL_COLOURS
    from web.tile_grid import tile_of

    x, y = tile_of(116.59, 35.41, 9)
    response = when_ready(lambda: risk_client.get(f"/risk/tiles/9/{x}/{y}.png"))
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    pixels = np.asarray(Image.open(io.BytesIO(response.content)).convert("RGBA")).reshape(-1, 4)
    opaque = {tuple(p[:3]) for p in pixels if p[3] > 0}
    official = {tuple(int(c[i : i + 2], 16) for i in (1, 3, 5)) for c in RISK_LEVEL_COLOURS.values()}
    assert opaque and opaque <= official
    assert (pixels[:, 3] == 0).any(), "outside the city is transparent"
    far = when_ready(lambda: risk_client.get("/risk/tiles/9/0/0.png"))
    assert (np.asarray(Image.open(io.BytesIO(far.content)).convert("RGBA"))[:, :, 3] == 0).all()
    assert when_ready(lambda: risk_client.get("/risk/tiles/2/4/0.png")).status_code == 400
    assert when_ready(lambda: risk_client.get("/risk/tiles/30/0/0.png")).status_code == 422


def test_a_dem_that_misses_the_city_is_refused(risk_run: tuple[Settings, Path, str], tmp_path: Path) -> None:
    from rasterio.transform import from_origin

    settings, _, _ = risk_run
    dem = tmp_path / "dem.tif"
    with rasterio.open(dem, "w", driver="GTiff", width=50, height=50, count=1, dtype="float32", crs="EPSG:4326", transform=from_origin(100.0, 30.0, 0.001, 0.001)) as band:
        band.write(np.ones((1, 50, 50), dtype="float32"))
    result = run_cli(settings, "risk", "--resolution", "500", "--dem", str(dem), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2 and "the DEM covers only 0% of the city" in result.output
    assert not (tmp_path / "out").exists()


def test_a_cold_analysis_runs_as_a_background_job_never_in_the_request(risk_run: tuple[Settings, Path, str]) -> None:
    """The first /risk/summary and /coverage/summary answer at once with 202, the step and
    Retry-After; other requests stay fast while the job runs; then the result is served."""
    import time

    from fastapi.testclient import TestClient

    from api.main import create_app

    settings, _, _ = risk_run
    with TestClient(create_app(settings.model_copy(update={"risk_resolution_m": 200.0}))) as client:
        started = time.monotonic()
        first = client.get("/risk/summary")
        assert time.monotonic() - started < 2.0, "the request did not wait for the zoning"
        assert first.status_code == 202, first.text
        assert first.headers["Retry-After"] == "2" and first.json()["job"].startswith("风险区划")
        assert first.json()["state"] in ("queued", "running") and first.json()["step"]
        quick = time.monotonic()
        assert client.get("/collections/shelters/items", params={"limit": 5}).status_code == 200
        assert time.monotonic() - quick < 2.0, "reads are served while the job runs"
        coverage = client.get("/coverage/summary")
        assert coverage.status_code == 202 and coverage.json()["job"].startswith("避难场所覆盖")
        done = when_ready(lambda: client.get("/risk/summary"))
        assert done.status_code == 200 and done.json()["totals"]["重大"]["area_km2"] >= 0
        assert when_ready(lambda: client.get("/coverage/summary")).status_code == 200
        assert client.get("/risk/at", params={"lon": 116.59, "lat": 35.41}).status_code == 200, "ready now: no 202"
        schema = client.get("/openapi.json").json()["paths"]
        assert "202" in schema["/risk/summary"]["get"]["responses"] and "202" in schema["/coverage/site"]["post"]["responses"]
