"""The wall map's HTTP side: the page (size independent of the data, no outside URLs), its assets,
the offline basemap tiles, search, place labels, residents around a point (cross-checked by
geodesic distances), and the basemap settings."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from PIL import Image
from pydantic import ValidationError
from pyproj import Geod

from api.main import create_app
from layers.settings import Settings
from layers.store import open_store
from tests.helpers import snapshot
from web.basemap import OUTSIDE, WATER_FILL
from web.tile_grid import tile_of


def _page(settings: Settings, path: str = "/map") -> str:
    with TestClient(create_app(settings)) as client:
        response = client.get(path)
        assert response.status_code == 200, response.text
        return response.text


def test_the_page_does_not_grow_with_the_data(sample_settings: Settings, tmp_path: Path) -> None:
    full = _page(sample_settings)
    empty = _page(Settings(store=str(tmp_path / "empty.gpkg")))
    assert abs(len(full.encode()) - len(empty.encode())) < 2048
    assert len(full.encode()) < 40_000, "the page carries configuration, not data"
    assert "南四湖" not in full and "尼山水库" not in full  # no feature is inlined
    assert "https://" not in full and "http://" not in full, "no CDN, no online basemap by default"
    for asset in ("/static/leaflet/leaflet.js", "/static/markercluster/leaflet.markercluster.js", "/static/onemap/wallmap.js", "/static/onemap/wallmap.css"):
        assert asset in full


def test_assets_are_served_by_the_app(client: TestClient) -> None:
    for path, kind in (("/static/leaflet/leaflet.js", "javascript"), ("/static/leaflet/leaflet.css", "css"), ("/static/markercluster/leaflet.markercluster.js", "javascript"),
                       ("/static/html-to-image/html-to-image.js", "javascript"), ("/static/onemap/wallmap.js", "javascript"), ("/static/onemap/favicon.svg", "svg")):
        response = client.get(path)
        assert response.status_code == 200, path
        assert kind in response.headers["content-type"], path
    assert client.get("/static/onemap/../../layers/settings.py").status_code == 404


def test_missing_npm_assets_answer_503_saying_how_to_install(sample_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import api.wallmap

    monkeypatch.setitem(api.wallmap.STATIC_MOUNTS, "leaflet", tmp_path / "not-installed")
    with TestClient(create_app(sample_settings)) as client:
        response = client.get("/static/leaflet/leaflet.js")
    assert response.status_code == 503 and ".ci/setup" in response.json()["description"]


def test_tianditu_and_extra_basemaps_come_from_settings(sample_settings: Settings) -> None:
    settings = sample_settings.model_copy(update={"tianditu_key": "abc123", "basemaps": [{"title": "高德", "url": "https://webrd01.is.autonavi.com/appmaptile?x={x}&y={y}&z={z}", "offset": "gcj02"}]})
    html = _page(settings)
    assert "tianditu.gov.cn" in html and "tk=abc123" in html and "autonavi" in html and '"gcj02"' in html


@pytest.mark.parametrize("provider", [
    {"title": "x", "url": "ftp://tiles/{z}/{x}/{y}"},
    {"title": "x", "url": "https://tiles/{z}/{x}"},
    {"url": "https://tiles/{z}/{x}/{y}"},
    {"title": "x", "url": "https://tiles/{z}/{x}/{y}", "offset": "bd09"},
])
def test_bad_basemap_settings_are_refused(provider: dict[str, str]) -> None:
    with pytest.raises(ValidationError, match="basemap 1"):
        Settings(basemaps=[provider])


def _png(client: TestClient, z: int, x: int, y: int) -> np.ndarray:
    response = client.get(f"/basemap/tiles/{z}/{x}/{y}.png")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    assert image.size == (256, 256)
    return np.asarray(image.convert("RGB"))


def _colour(hex_colour: str) -> np.ndarray:
    return np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)])


def test_basemap_tiles_draw_the_stores_water_roads_and_nothing_elsewhere(client: TestClient, sample_settings: Settings) -> None:
    lake = snapshot(sample_settings, "water_bodies").geometry.iloc[0]
    middle = lake.representative_point()
    pixels = _png(client, 12, *tile_of(middle.x, middle.y, 12))
    water = np.all(np.abs(pixels.astype(int) - _colour(WATER_FILL)) <= 3, axis=2)
    assert water.mean() > 0.3, "the lake fills much of its tile"
    town = _png(client, 13, *tile_of(116.59, 35.41, 13))
    assert len(np.unique(town.reshape(-1, 3), axis=0)) > 20, "roads and boundaries are drawn in the city"
    beijing = _png(client, 12, *tile_of(116.40, 39.90, 12))
    assert np.all(beijing == _colour(OUTSIDE)), "outside the city: plain background"


def test_basemap_tiles_follow_the_roads(client: TestClient, sample_settings: Settings) -> None:
    from layers.store import open_store

    z, (x, y) = 14, tile_of(116.59, 35.41, 14)
    before = _png(client, z, x, y)
    with open_store(sample_settings) as store:
        roads = store.read("roads", bbox=(116.57, 35.39, 116.61, 35.43))
        store.delete("roads", list(roads["source_id"]))
    after = _png(client, z, x, y)
    assert not np.array_equal(before, after)


def test_a_restarted_server_serves_the_basemap_tiles_drawn_before_from_disk(sample_settings: Settings, tmp_path: Path) -> None:
    settings = sample_settings.model_copy(update={"cache_dir": str(tmp_path / "cache")})
    z, (x, y) = 13, tile_of(116.59, 35.41, 13)
    with TestClient(create_app(settings)) as first:
        drawn = first.get(f"/basemap/tiles/{z}/{x}/{y}.png").content
    assert len(list((tmp_path / "cache").glob(f"basemap-*/{z}/{x}/{y}.png"))) == 1
    with TestClient(create_app(settings)) as restarted:
        assert restarted.get(f"/basemap/tiles/{z}/{x}/{y}.png").content == drawn
        assert restarted.app.state.basemap._data is None, "read from disk: the basemap was not even prepared"
        with open_store(settings) as store:
            roads = store.read("roads", bbox=(116.57, 35.39, 116.61, 35.43))
            store.delete("roads", list(roads["source_id"]))
        assert restarted.get(f"/basemap/tiles/{z}/{x}/{y}.png").content != drawn, "a write to the roads is a new tile set"
    assert len(list((tmp_path / "cache").glob("basemap-*"))) == 2


@pytest.mark.parametrize(("path", "status"), [("/basemap/tiles/3/8/1.png", 400), ("/basemap/tiles/19/0/0.png", 422), ("/basemap/tiles/2/-1/0.png", 422)])
def test_bad_tile_addresses(client: TestClient, path: str, status: int) -> None:
    assert client.get(path).status_code == status


def test_search_finds_names_and_coordinates(client: TestClient) -> None:
    hits = client.get("/map/search", params={"q": "尼山"}).json()["hits"]
    assert hits[0]["name"] == "尼山水库" and hits[0]["layer"] == "reservoirs"
    assert all("尼山" in hit["name"] for hit in hits)
    county = client.get("/map/search", params={"q": "邹城市"}).json()["hits"][0]
    assert county["layer"] == "admin_areas" and county["name"] == "邹城市"
    for text in ("116.59,35.41", "35.41 116.59", "116°35′24″E 35°24′36″N"):
        first = client.get("/map/search", params={"q": text}).json()["hits"][0]
        assert first["kind"] == "coordinate"
        assert first["lon"] == pytest.approx(116.59, abs=1e-4) and first["lat"] == pytest.approx(35.41, abs=1e-4)
    assert client.get("/map/search", params={"q": "不存在的地名xyz"}).json()["hits"] == []
    assert client.get("/map/search", params={"q": ""}).status_code == 422
    assert client.get("/map/search", params={"q": "   "}).status_code == 400


def test_places_label_every_county_and_township(client: TestClient) -> None:
    counties = client.get("/map/places", params={"level": "区县"}).json()["places"]
    assert len(counties) == 11 and {"任城区", "邹城市", "微山县"} <= {p["name"] for p in counties}
    assert len(client.get("/map/places", params={"level": "乡镇街道"}).json()["places"]) == 156
    assert client.get("/map/places", params={"level": "村"}).status_code == 400


def test_residents_around_a_point_match_geodesic_distances(client: TestClient, sample_settings: Settings) -> None:
    lon, lat = 116.59, 35.41
    body = client.get("/map/situation", params={"lon": lon, "lat": lat}).json()
    got = body["residents_within_km"]
    cells = snapshot(sample_settings, "population")
    centres = shapely.centroid(np.asarray(cells.geometry.array, dtype=object))
    _, _, metres = Geod(ellps="GRS80").inv(np.full(len(centres), lon), np.full(len(centres), lat), shapely.get_x(centres), shapely.get_y(centres))
    persons = cells["persons"].to_numpy()
    for km in ("1", "3", "5"):
        inner = persons[metres <= float(km) * 1000 - 50].sum()
        outer = persons[metres <= float(km) * 1000 + 50].sum()
        assert inner <= got[km] <= outer, (km, inner, got[km], outer)
    assert 0 < got["1"] < got["3"] < got["5"]
    assert client.get("/map/situation", params={"lon": 116.59}).status_code == 422
