"""Shelter coverage through its surfaces: the CLI on the sample city (files, tables, exit codes, no
partial output) and the HTTP routes (JSON, GeoJSON, validated input)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pyogrio
import pytest
import shapely
from fastapi.testclient import TestClient

from layers.settings import Settings
from layers.store import open_store
from tests.helpers import run_cli, when_ready


def test_cli_coverage_writes_gpkg_xlsx_and_map(sample_settings: Settings, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_cli(sample_settings, "coverage", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "residents covered" in result.output and "most uncovered townships" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["coverage.gpkg", "coverage_map.html", "coverage_townships.xlsx"]
    layers = {name for name, _ in pyogrio.list_layers(out / "coverage.gpkg")}
    assert {"cells", "gaps", "shelters", "townships", "counties", "parameters"} <= layers
    townships = gpd.read_file(out / "coverage.gpkg", layer="townships")
    cells = gpd.read_file(out / "coverage.gpkg", layer="cells")
    assert len(townships) == 156 and townships.crs.to_epsg() == 4326
    assert townships["residents"].sum() == pytest.approx(cells["persons"].sum(), rel=1e-9)
    assert townships["residents_uncovered"].sum() == pytest.approx(cells.loc[~cells["covered"].astype(bool), "persons"].sum(), rel=1e-9)
    gaps = gpd.read_file(out / "coverage.gpkg", layer="gaps")
    assert gaps["residents"].sum() == pytest.approx(townships["residents_uncovered"].sum(), rel=1e-9)
    shelters = gpd.read_file(out / "coverage.gpkg", layer="shelters")
    assert len(shelters) == 135 and (shelters["load_ratio"] >= 0).all()
    book = openpyxl.load_workbook(out / "coverage_townships.xlsx", read_only=True)
    assert book.sheetnames[:3] == ["乡镇街道", "区县", "避难场所负荷"]
    header = [c.value for c in next(book["乡镇街道"].iter_rows(max_row=1))]
    assert "未覆盖人口(人)" in header and "容量缺口(人)" in header and "人均避难面积(m²/人)" in header
    assert book["乡镇街道"].max_row == 157


def test_a_grid_over_the_whole_grid_limit_is_read_in_chunks_with_the_same_answer(sample_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Over WHOLE_GRID_UP_TO cells (a province's 16 million) the population is read a chunk at a
    time, twice, keeping only numbers per cell: on the sample city, in chunks of 10,000, every
    number and gap is that of the grid read whole, and the cells written are their centres."""
    from layers.services import coverage
    from layers.services.coverage import CoverageService
    from layers.services.routing import RoutingService

    with open_store(sample_settings) as store:
        routing = RoutingService(store, sample_settings)
        whole = CoverageService(store, sample_settings, routing).result()
        monkeypatch.setattr(coverage, "WHOLE_GRID_UP_TO", 0)
        monkeypatch.setattr(coverage, "POPULATION_CHUNK", 10_000)
        assert store.count("population") > 2 * coverage.POPULATION_CHUNK
        chunked = CoverageService(store, sample_settings, routing).result()
    assert whole.cells.drop(columns="geometry").equals(chunked.cells.drop(columns="geometry"))
    assert set(chunked.cells.geom_type) == {"Point"} and set(whole.cells.geom_type) <= {"Polygon", "MultiPolygon"}
    assert whole.gaps.drop(columns="geometry").equals(chunked.gaps.drop(columns="geometry")) and len(whole.gaps) > 10
    assert shapely.equals(whole.gaps.geometry.to_numpy(), chunked.gaps.geometry.to_numpy()).all()
    assert whole.areas.equals(chunked.areas) and whole.shelters.equals(chunked.shelters)
    out = tmp_path / "out"
    assert run_cli(sample_settings, "coverage", "--out", str(out)).exit_code == 0
    cells = gpd.read_file(out / "coverage.gpkg", layer="cells")
    assert set(cells.geom_type) == {"Point"} and len(cells) == len(whole.cells)


def test_cli_euclidean_mode_is_labelled_as_a_comparison(sample_settings: Settings, tmp_path: Path) -> None:
    result = run_cli(sample_settings, "coverage", "--mode", "euclidean", "--type", "固定", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "直线距离（对比用）" in result.output
    parameters = gpd.read_file(tmp_path / "coverage.gpkg", layer="parameters")
    assert '"直线距离（对比用）"' in parameters.set_index("key").loc["mode_label", "value"]


def test_cli_site_recommends_sites_with_the_residents_they_cover(sample_settings: Settings, tmp_path: Path) -> None:
    result = run_cli(sample_settings, "coverage", "--out", str(tmp_path), "site", "--p", "4")
    assert result.exit_code == 0, result.output
    assert "optimality gap 0.00 %" in result.output
    sites = gpd.read_file(tmp_path / "coverage.gpkg", layer="new_sites")
    assert sites["rank"].tolist() == [1, 2, 3, 4]
    assert (np.diff(sites["residents_newly_covered"].to_numpy()) <= 0).all() and (sites["residents_newly_covered"] > 0).all()


def test_cli_site_with_a_candidates_file(sample_settings: Settings, tmp_path: Path) -> None:
    candidates = tmp_path / "schools.geojson"
    gpd.GeoDataFrame({"name": ["一中", "二中", "三中"]}, geometry=[shapely.Point(116.55, 35.43), shapely.Point(116.62, 35.40), shapely.Point(116.35, 35.41)], crs=4326).to_file(candidates)
    result = run_cli(sample_settings, "coverage", "site", "--p", "2", "--candidates", str(candidates), "--out", str(tmp_path / "o"))
    assert result.exit_code == 0, result.output
    sites = gpd.read_file(tmp_path / "o" / "coverage.gpkg", layer="new_sites")
    assert set(sites["name"]) <= {"一中", "二中", "三中"} and len(sites) == 2
    too_many = run_cli(sample_settings, "coverage", "site", "--p", "5", "--candidates", str(candidates), "--out", str(tmp_path / "p"))
    assert too_many.exit_code == 2
    assert "p = 5 new sites asked for, but there are only 3 candidate sites" in too_many.output
    assert not (tmp_path / "p").exists() or not any((tmp_path / "p").iterdir()), "no partial output"


def test_cli_capacitated_site_prints_the_capacitated_objective(sample_settings: Settings, tmp_path: Path) -> None:
    candidates = tmp_path / "schools.geojson"
    gpd.GeoDataFrame({"name": ["一中", "二中"], "capacity_persons": [300.0, 200.0]}, geometry=[shapely.Point(116.55, 35.43), shapely.Point(116.62, 35.40)], crs=4326).to_file(candidates)
    result = run_cli(sample_settings, "coverage", "site", "--p", "2", "--capacitated", "--candidates", str(candidates), "--out", str(tmp_path / "o"))
    assert result.exit_code == 0, result.output
    sites = gpd.read_file(tmp_path / "o" / "coverage.gpkg", layer="new_sites")
    sheltered = float(sites["persons_sheltered"].sum())
    assert 0 < sheltered <= 500 + 1e-6 and (sites["persons_sheltered"] <= sites["capacity_persons"] + 1e-6).all()
    assert f"capacitated objective: {sheltered:,.0f} persons sheltered within capacity" in result.output
    assert "newly covered" not in result.output, "the uncapacitated figure is not the capacitated answer"


def test_cli_bad_input_exits_2_and_writes_nothing(sample_settings: Settings, tmp_path: Path) -> None:
    with open_store(sample_settings) as store:
        zero = store.read("shelters").head(1).assign(capacity_persons=0)
        store.upsert("shelters", zero)
    out = tmp_path / "out"
    result = run_cli(sample_settings, "coverage", "--out", str(out))
    assert result.exit_code == 2
    assert "without a usable capacity" in result.output and str(zero["source_id"].iloc[0]) in result.output
    assert not out.exists() or not any(out.iterdir())


def test_cli_population_file_elsewhere_is_refused(sample_settings: Settings, tmp_path: Path) -> None:
    # A grid near Beijing: it does not overlap the city (and lies outside its region).
    grid = gpd.GeoDataFrame({"人口": [100.0, 200.0]}, geometry=[shapely.box(116.30, 39.90, 116.31, 39.91), shapely.box(116.31, 39.90, 116.32, 39.91)], crs=4326)
    path = tmp_path / "pop.geojson"
    grid.to_file(path)
    out = tmp_path / "out"
    result = run_cli(sample_settings, "coverage", "--population", str(path), "--out", str(out))
    assert result.exit_code == 2
    assert str(path) in result.output and "row 1" in result.output
    assert not out.exists() or not any(out.iterdir())


def test_cli_population_file_in_another_crs_is_reprojected(sample_settings: Settings, sample_city: dict[str, gpd.GeoDataFrame], tmp_path: Path) -> None:
    grid = sample_city["population"].cx[116.5:116.7, 35.3:35.5].to_crs(4548)[["persons", "geometry"]]
    path = tmp_path / "pop.gpkg"
    grid.to_file(path)
    result = run_cli(sample_settings, "coverage", "--population", str(path), "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    cells = gpd.read_file(tmp_path / "out" / "coverage.gpkg", layer="cells")
    assert cells["persons"].sum() == pytest.approx(grid.loc[grid["persons"] > 0, "persons"].sum())


def test_cli_coverage_help_teaches() -> None:
    result = run_cli(Settings(store="unused.gpkg"), "coverage", "--help")
    assert result.exit_code == 0
    for words in ("--type", "紧急", "--mode", "euclidean", "coverage_townships.xlsx", "ONEMAP_WALK_SPEED_KMH", "onemap coverage site --p 10"):
        assert words in result.output


# --- HTTP -------------------------------------------------------------------------------------------


def test_summary_gaps_and_site_over_http(client: TestClient) -> None:
    summary = when_ready(lambda: client.get("/coverage/summary"))
    assert summary.status_code == 200
    body = summary.json()
    assert len(body["townships"]) == 156 and len(body["counties"]) == 11
    totals = body["totals"]
    assert totals["residents"] == pytest.approx(8_300_000)
    assert totals["residents_covered"] + totals["residents_uncovered"] == pytest.approx(totals["residents"])
    assert sum(t["residents_uncovered"] for t in body["townships"]) == pytest.approx(totals["residents_uncovered"])
    assert body["parameters"]["walk_kmh"] == 4.5

    gaps = when_ready(lambda: client.get("/coverage/gaps", params={"type": "紧急"}))
    assert gaps.status_code == 200 and gaps.headers["content-type"].startswith("application/geo+json")
    features = gaps.json()["features"]
    assert sum(f["properties"]["residents"] for f in features) == pytest.approx(totals["residents_uncovered"])
    assert all(f["geometry"]["type"] in ("Polygon", "MultiPolygon") for f in features)

    site = when_ready(lambda: client.post("/coverage/site", json={"p": 3}))
    assert site.status_code == 200
    solution = site.json()["solution"]
    assert solution["mip_gap"] == 0 and len(site.json()["features"]) == 3
    assert sum(f["properties"]["residents_newly_covered"] for f in site.json()["features"]) == pytest.approx(solution["objective"])


def test_site_with_posted_candidates_reports_them_as_given(client: TestClient) -> None:
    candidates = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [116.55, 35.43]}, "properties": {"name": "<b>一中</b>"}},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [116.62, 35.40]}, "properties": {"name": "二中", "capacity_persons": 800}},
    ]}
    response = when_ready(lambda: client.post("/coverage/site", json={"p": 1, "candidates": candidates, "capacitated": True}))
    assert response.status_code == 200
    (feature,) = response.json()["features"]
    assert feature["properties"]["name"] in ("<b>一中</b>", "二中")
    assert tuple(feature["geometry"]["coordinates"]) in ((116.55, 35.43), (116.62, 35.40))
    solution = response.json()["solution"]
    assert solution["model"] == "cmclp"
    assert solution["persons_sheltered"] == pytest.approx(solution["objective"]) == pytest.approx(feature["properties"]["persons_sheltered"])
    assert feature["properties"]["persons_sheltered"] <= feature["properties"]["capacity_persons"] + 1e-6


def test_site_never_reads_a_server_file_and_says_the_same_for_any_path(client: TestClient, tmp_path: Path) -> None:
    """A viewer must not load, or learn the existence of, a GIS file on the server."""
    real = tmp_path / "schools.geojson"
    real.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [116.55, 35.43]}, "properties": {}}]}', encoding="utf-8")
    answers = [client.post("/coverage/site", json={"p": 1, "candidates": str(path)}) for path in (real, tmp_path / "absent.geojson")]
    assert [a.status_code for a in answers] == [400, 400]
    said = [a.json()["description"].replace(str(real), "P").replace(str(tmp_path / "absent.geojson"), "P") for a in answers]
    assert said[0] == said[1], said
    assert "is not a layer" in answers[0].text


def test_site_states_the_maximum_candidates_count(client: TestClient) -> None:
    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [116.55, 35.43]}, "properties": {}}
    response = when_ready(lambda: client.post("/coverage/site", json={"p": 1, "candidates": {"type": "FeatureCollection", "features": [feature] * 5001}}))
    assert response.status_code == 400
    assert "5,001 sites given, at most 5,000" in response.json()["description"]


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"p": 0}, 422, "greater than or equal to 1"),
        ({"p": "many"}, 422, "valid integer"),
        ({"p": 2, "type": "临时"}, 422, "紧急"),
        ({"p": 2, "candidates": "no_such_layer_or_file"}, 400, "is not a layer"),
        ({"p": 2, "candidates": {"type": "FeatureCollection", "features": []}}, 400, "no features"),
        ({"p": 2, "candidates": {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[116, 35], [117, 35]]}}]}}, 400, "feature 1 is LineString"),
        ({"p": 2, "candidates": {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [500000, 3900000]}}]}}, 400, "EPSG:4326"),
        ({"p": 2, "candidates": {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": None}]}}, 400, "no valid geometry"),
        ({"p": 1, "candidates": {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [116.59, 35.41]}, "properties": [1]}]}}, 400, "properties must be an object"),
        ({"p": 1, "candidates": {"type": "FeatureCollection", "features": ["not a feature"]}}, 400, "not a GeoJSON Feature"),
        ({"p": 1, "candidates": {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [0.0, 0.0]}}]}}, 400, "outside the configured region"),
        ({"p": 1, "candidates": {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [116.59, 35.41]}, "properties": {"capacity_persons": True}}]}}, 400, "positive finite number"),
    ],
)
def test_site_rejects_bad_input_clearly(client: TestClient, body: dict[str, object], status: int, words: str) -> None:
    response = when_ready(lambda: client.post("/coverage/site", json=body))
    assert response.status_code == status, response.text
    assert words in response.text


@pytest.mark.parametrize("text", ['[NaN, NaN]', '[Infinity, 1]'])
def test_site_refuses_non_finite_numbers_before_any_job(client: TestClient, text: str) -> None:
    """NaN and Infinity are not JSON numbers: refused up front, never a job that fails to answer."""
    body = '{"p": 1, "candidates": {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": {"type": "Point", "coordinates": ' + text + '}, "properties": {}}]}}'
    for _ in range(2):
        response = client.post("/coverage/site", content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 400, response.text
    capacity = '{"p": 1, "capacitated": true, "candidates": {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [116.59, 35.41]}, "properties": {"capacity_persons": Infinity}}]}}'
    assert client.post("/coverage/site", content=capacity, headers={"Content-Type": "application/json"}).status_code == 400


def test_summary_rejects_unknown_type_and_mode(client: TestClient) -> None:
    assert when_ready(lambda: client.get("/coverage/summary", params={"type": "临时"})).status_code == 422
    assert when_ready(lambda: client.get("/coverage/gaps", params={"mode": "flying"})).status_code == 422


def test_coverage_on_a_postgis_store_follows_the_ledger(pg_url: str, pg_schema: str, sample_city: dict[str, gpd.GeoDataFrame], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from api.main import create_app

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # the PostGIS store caches graphs in the user's cache folder
    settings = Settings(store=pg_url, pg_schema=pg_schema)
    with open_store(settings) as store:
        store.upsert_many({name: sample_city[name] for name in ("roads", "shelters", "population", "admin_areas")})
    with TestClient(create_app(settings)) as pg_client:
        before = when_ready(lambda: pg_client.get("/coverage/summary")).json()["totals"]
        with open_store(settings) as store:
            shelters = store.read("shelters")
            store.delete("shelters", shelters["source_id"].head(60).tolist())  # the ledger loses 60 shelters
        after = when_ready(lambda: pg_client.get("/coverage/summary")).json()["totals"]
    assert before["residents"] == pytest.approx(8_300_000)
    assert after["shelters"] == before["shelters"] - 60
    assert after["residents_covered"] < before["residents_covered"], "the cached result is not reused after the shelters changed"
