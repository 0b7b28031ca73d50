"""OGC API - Features over the sample city: shapes of the answers, paging, filters, errors, and
GDAL's own OAPIF client reading from a real server."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from layers.settings import Settings
from layers.store import open_store
from tests.helpers import serving


def test_landing_and_conformance(client: TestClient) -> None:
    landing = client.get("/").json()
    rels = {link["rel"] for link in landing["links"]}
    assert {"self", "service-desc", "conformance", "data"} <= rels
    conformance = client.get("/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in conformance


def test_collections_list_every_layer_with_counts(client: TestClient) -> None:
    body = client.get("/collections").json()
    by_id = {c["id"]: c for c in body["collections"]}
    assert by_id["reservoirs"]["numberOfFeatures"] == 248
    assert by_id["shelters"]["title"].startswith("应急避难场所")
    assert "capacity_persons: 容纳人数 (人)" in by_id["shelters"]["description"]
    bbox = by_id["roads"]["extent"]["spatial"]["bbox"][0]
    assert 115.9 < bbox[0] < bbox[2] < 117.7
    one = client.get("/collections/reservoirs").json()
    assert any(link["rel"] == "items" for link in one["links"])


def test_items_page_through_with_next_links(client: TestClient) -> None:
    seen: list[str] = []
    url = "/collections/geohazard_points/items?limit=10"
    pages = 0
    while url:
        response = client.get(url)
        assert response.headers["content-type"].startswith("application/geo+json")
        body = response.json()
        assert body["numberMatched"] == 42
        assert body["numberReturned"] == len(body["features"])
        seen += [f["id"] for f in body["features"]]
        url = next((link["href"] for link in body["links"] if link["rel"] == "next"), "")
        pages += 1
    assert pages == 5 and len(seen) == 42 == len(set(seen))


def test_bbox_and_attribute_filters(client: TestClient, sample_city: dict[str, gpd.GeoDataFrame]) -> None:
    shelters = sample_city["shelters"]
    box = (116.5, 35.3, 116.7, 35.5)
    inside = shelters.cx[box[0] : box[2], box[1] : box[3]]
    body = client.get("/collections/shelters/items", params={"bbox": ",".join(map(str, box)), "limit": 1000}).json()
    assert {f["id"] for f in body["features"]} == set(inside["source_id"])
    fixed = client.get("/collections/shelters/items", params={"shelter_type": "固定", "limit": 1000}).json()
    assert fixed["numberMatched"] == int((shelters["shelter_type"] == "固定").sum())
    assert all(f["properties"]["shelter_type"] == "固定" for f in fixed["features"])


def test_one_item_by_source_id(client: TestClient) -> None:
    feature = client.get("/collections/reservoirs/items/SK0001").json()
    assert feature["id"] == "SK0001"
    assert feature["properties"]["name"] == "尼山水库"
    assert feature["geometry"]["type"] == "Point"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("/collections/volcanoes", "unknown layer 'volcanoes'"),
        ("/collections/volcanoes/items", "unknown layer"),
        ("/collections/reservoirs/items/NOPE", "no feature with source_id 'NOPE'"),
    ],
)
def test_unknown_layers_and_features_are_404(client: TestClient, url: str, message: str) -> None:
    response = client.get(url)
    assert response.status_code == 404, response.text
    assert message in response.json()["description"]


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("bbox=1,2,3", 400, "four numbers"),
        ("bbox=a,b,c,d", 400, "four numbers"),
        ("bbox=117,35,116,36", 400, "min ≤ max"),
        ("limit=0", 422, "greater than or equal to 1"),
        ("limit=100001", 422, "less than or equal to 10000"),
        ("offset=-1", 422, "greater than or equal to 0"),
        ("colour=red", 400, "no field 'colour'"),
        ("capacity_m3=lots", 400, "not a valid float"),
        ("bbox-crs=EPSG:3857&bbox=1,1,2,2", 400, "only http://www.opengis.net/def/crs/OGC/1.3/CRS84"),
    ],
)
def test_bad_item_queries_get_a_clear_4xx(client: TestClient, query: str, status: int, message: str) -> None:
    response = client.get(f"/collections/reservoirs/items?{query}")
    assert response.status_code == status, response.text
    assert message in response.json()["description"]


def test_store_that_cannot_open_fails_at_start(tmp_path: Path) -> None:
    app = create_app(Settings(store="mysql://nope"))
    with pytest.raises(Exception, match="neither a path ending in .gpkg nor a postgresql"), TestClient(app):
        pass


@pytest.mark.xdist_group("read-only-server")
def test_gdal_oapif_reads_a_layer_from_a_real_server(read_only_server: str, sample_city: dict[str, gpd.GeoDataFrame]) -> None:
    read = pyogrio.read_dataframe(f"OAPIF:{read_only_server}/collections/supply_depots")
    expected = sample_city["supply_depots"]
    assert len(read) == len(expected) == 672
    read = read.set_index("source_id").loc[expected["source_id"]]
    np.testing.assert_allclose(read.geometry.x, expected.geometry.x, atol=1e-9)
    np.testing.assert_allclose(read.geometry.y, expected.geometry.y, atol=1e-9)
    assert list(read["name"]) == list(expected["name"])


@pytest.fixture
def postgis_sample(pg_url: str, pg_schema: str, sample_city: dict[str, gpd.GeoDataFrame]) -> Settings:
    settings = Settings(store=pg_url, pg_schema=pg_schema)
    with open_store(settings) as store:
        store.upsert_many({k: v for k, v in sample_city.items() if k in ("reservoirs", "admin_areas")})
    return settings


def test_gdal_oapif_reads_from_postgis(postgis_sample: Settings) -> None:
    with serving(postgis_sample) as url:
        admin = pyogrio.read_dataframe(f"OAPIF:{url}/collections/admin_areas")
    assert len(admin) == 168
    assert admin.loc[admin["source_id"] == "370800", "population"].iloc[0] == 8_300_000
    assert admin.geometry.geom_type.eq("MultiPolygon").all()


@pytest.mark.parametrize(
    "url",
    [
        "/collections/reservoirs/items/%00",
        "/collections/reservoirs/items?name=a%00b",
        "/collections/reservoirs/items?source_id=%00",
        "/collections/shelters/items?capacity_persons=99999999999999999999999",
        "/collections/reservoirs/items?capacity_m3=nan",
        "/collections/reservoirs/items?capacity_m3=inf",
        "/collections/reservoirs/items?offset=99999999999999999999",
        "/collections/reservoirs/items?bbox=nan,nan,nan,nan",
        "/collections/reservoirs/items?above_flood_limit=maybe",
        "/collections/incidents/items?occurred_at=yesterday",
    ],
)
def test_hostile_values_are_4xx_never_500(client: TestClient, url: str) -> None:
    response = client.get(url)
    assert 400 <= response.status_code < 500, (response.status_code, response.text)


def test_hostile_values_on_postgis(postgis_sample: Settings) -> None:
    with TestClient(create_app(postgis_sample)) as pg_client:
        for url in ("/collections/reservoirs/items/%00", "/collections/admin_areas/items?population=99999999999999999999999"):
            response = pg_client.get(url)
            assert 400 <= response.status_code < 500, (url, response.status_code, response.text)


def test_gdal_picks_the_servers_page_size_with_a_token(sample_gpkg: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As the README says: GDAL with a bearer token reads a bbox of roads in a few requests of the
    page size the OpenAPI advertises (limit ≤ 10,000), not in hundreds of 10-feature pages."""
    from tests.helpers import secured_copy, server_process

    settings, accounts, tokens = secured_copy(sample_gpkg, tmp_path, {"gis": "viewer"})
    accounts.close()
    monkeypatch.setenv("GDAL_HTTP_AUTH", "BEARER")
    monkeypatch.setenv("GDAL_HTTP_BEARER", tokens["gis"])
    with server_process(settings) as server:
        roads = pyogrio.read_dataframe(f"OAPIF:{server.url}", layer="roads", bbox=(116.5, 35.35, 116.7, 35.5))
        pages = [line for line in server.output().splitlines() if "/collections/roads/items?" in line and "bbox=" in line]
    with open_store(settings) as store:
        assert len(roads) == store.count("roads", bbox=(116.5, 35.35, 116.7, 35.5)) > 2000
    assert 1 <= len(pages) <= len(roads) // 1000 + 1, f"{len(pages)} requests for {len(roads)} roads"
    assert all(" 200" in line for line in pages)
