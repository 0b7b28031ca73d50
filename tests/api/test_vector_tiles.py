"""Vector tiles (OGC API - Tiles, Mapbox Vector Tiles) of the sample city from both stores: the
same features and properties from PostGIS (ST_AsMVT) and the GeoPackage (mapbox-vector-tile);
the generalisation (roads by class, dense layers aggregated, no tile over 500 KiB from z6 to
z15); restricted fields kept from viewers; ETag, 304 and a write moving the tag; bad addresses."""

from __future__ import annotations

import dataclasses
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import mapbox_vector_tile
import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from shapely.geometry import shape
from sqlalchemy import create_engine, text

from api import vector_tiles
from api.main import create_app
from api.schemas import TileSet, TileSets
from api.vector_tiles import MAX_ZOOM, MERGE_ROADS_BELOW, MERGE_ROADS_BY, plan_tile, road_classes_at
from layers.catalogue import CATALOGUE, get_layer
from layers.settings import Settings
from layers.store import open_store
from layers.store.postgis import sqlalchemy_url
from layers.store.tile_plan import MERGED
from tests.helpers import secured_copy
from web.basemap import ROAD_STYLE
from web.tile_grid import tile_of

pytestmark = pytest.mark.xdist_group("vector-tiles")  # its module fixtures are built once, on one worker (--dist loadgroup)

CENTRE = (116.59, 35.41)
"""The sample city's centre (lon, lat): its densest roads and population."""
PIXEL = 4096 / 256
"""One pixel of a 256-px tile in MVT units."""
ROUNDING = 1.0
"""Each store rounds to whole units: two renderings of a vertex may be a unit apart."""
LIMIT_BYTES = 500 * 1024


def _url(layer: str, z: int, x: int, y: int) -> str:
    return f"/collections/{layer}/tiles/WebMercatorQuad/{z}/{y}/{x}"


def _decode(body: bytes, layer: str) -> list[dict[str, Any]]:
    return list(mapbox_vector_tile.decode(body).get(layer, {}).get("features", [])) if body else []


@pytest.fixture(scope="module")
def pg_sample(pg_url: str, sample_gpkg: Path) -> Iterator[Settings]:
    """The sample city in a PostGIS schema of its own, shared by this module's tests (read only)."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    settings = Settings(store=pg_url, pg_schema=schema)
    with open_store(Settings(store=str(sample_gpkg))) as source, open_store(settings) as store:
        store.upsert_many({info.name: source.read(info.name) for info in source.list_layers() if info.count})
    yield settings
    engine = create_engine(sqlalchemy_url(pg_url))
    with engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


@pytest.fixture(scope="module")
def clients(pg_sample: Settings, sample_gpkg: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, TestClient]]:
    """A client of each store, both holding the sample city (auth off: everybody is admin)."""
    copy = tmp_path_factory.mktemp("tiles") / "store.gpkg"
    shutil.copy(sample_gpkg, copy)
    with TestClient(create_app(Settings(store=str(copy)))) as gpkg, TestClient(create_app(pg_sample)) as postgis:
        yield {"gpkg": gpkg, "postgis": postgis}


def _key(feature: dict[str, Any], key: str, i: int) -> Any:
    """A feature's key: ``key``'s value; a merged line's, the values it was merged by."""
    properties = feature["properties"]
    if MERGED in properties:
        return tuple(properties.get(c) for c in MERGE_ROADS_BY)
    return properties.get(key, i)


def _same_tile(gpkg: bytes, postgis: bytes, layer: str, key: str) -> int:
    """Both tiles hold the same features (by ``key``; merged lines by what they were merged by)
    with the same properties, each geometry within a pixel of the other's; returns how many."""
    left = {_key(f, key, i): f for i, f in enumerate(_decode(gpkg, layer))}
    right = {_key(f, key, i): f for i, f in enumerate(_decode(postgis, layer))}
    assert set(left) == set(right), sorted(set(left) ^ set(right))[:5]
    for name, feature in left.items():
        other = right[name]
        assert feature["properties"].keys() == other["properties"].keys(), name
        for prop, value in feature["properties"].items():
            expected = other["properties"][prop]
            assert type(value) is type(expected) and value == (pytest.approx(expected, rel=1e-9) if isinstance(expected, float) else expected), (name, prop)
        a, b = shape(feature["geometry"]), shape(other["geometry"])
        assert a.geom_type.removeprefix("Multi") == b.geom_type.removeprefix("Multi"), name
        assert shapely.hausdorff_distance(a, b) <= PIXEL + ROUNDING, (name, a.wkt[:200], b.wkt[:200])
    return len(left)


@pytest.mark.parametrize("layer", ["roads", "population", "admin_areas", "shelters", "hazardous_enterprises", "flood_prone_areas"])
def test_both_stores_give_the_same_tiles(clients: dict[str, TestClient], layer: str) -> None:
    features = 0
    for z in (9, 11, 13, 15):
        x, y = tile_of(*CENTRE, z)
        bodies = {}
        for kind, client in clients.items():
            response = client.get(_url(layer, z, x, y))
            assert response.status_code == 200 and response.headers["content-type"] == "application/vnd.mapbox-vector-tile", response.text
            bodies[kind] = response.content
        key = "count" if layer == "population" and z == 9 else "source_id"
        features += _same_tile(bodies["gpkg"], bodies["postgis"], layer, key) if key == "source_id" else len(_decode(bodies["gpkg"], layer))
    assert features > 0


def test_every_layer_alike_in_both_stores_from_z6_to_z15(pg_sample: Settings, sample_gpkg: Path) -> None:
    """Every layer, every zoom from 6 to 15, at the centre and in the north-east of the city
    (below z6 the city is a few dozen units across, and which sub-unit slivers survive the snap
    to the grid differs between the encoders)."""
    places = (CENTRE, (117.3, 35.8))
    compared = 0
    with open_store(pg_sample) as postgis, open_store(Settings(store=str(sample_gpkg))) as gpkg:
        for layer in CATALOGUE:
            for z in range(6, 16):
                for lon, lat in places:
                    plan = plan_tile(get_layer(layer), z, *tile_of(lon, lat, z), restricted=True)
                    left, right = gpkg.vector_tile(plan), postgis.vector_tile(plan)
                    aggregated = plan.aggregate_over is not None and any("count" in f["properties"] for f in _decode(left, layer))
                    compared += len(_decode(left, layer)) if aggregated else _same_tile(left, right, layer, "source_id")
    assert compared > 5_000


def test_dense_layers_are_aggregated_alike_in_both_stores(clients: dict[str, TestClient], monkeypatch: pytest.MonkeyPatch) -> None:
    # population at z9: the city's 40,000 cells of 500 m become cells of 8 px with summed persons
    x, y = tile_of(*CENTRE, 9)
    tiles = {kind: _decode(client.get(_url("population", 9, x, y)).content, "population") for kind, client in clients.items()}
    for features in tiles.values():
        assert features and all(set(f["properties"]) == {"count", "persons"} for f in features)
        assert len(features) <= 34 * 34 and sum(f["properties"]["count"] for f in features) > vector_tiles.MAX_FEATURES
    cells = {kind: sorted((round(shape(f["geometry"]).centroid.x), round(shape(f["geometry"]).centroid.y), f["properties"]["count"]) for f in features)
             for kind, features in tiles.items()}
    assert cells["gpkg"] == cells["postgis"]
    persons = {kind: sum(f["properties"]["persons"] for f in features) for kind, features in tiles.items()}
    assert persons["gpkg"] == pytest.approx(persons["postgis"], rel=1e-9)
    # points: rescue stations aggregated once a tile holds more than the (lowered) threshold
    monkeypatch.setattr(vector_tiles, "MAX_FEATURES", 50)
    x, y = tile_of(*CENTRE, 8)
    points = {kind: _decode(client.get(_url("rescue_stations", 8, x, y)).content, "rescue_stations") for kind, client in clients.items()}
    for features in points.values():
        assert features and all(f["geometry"]["type"] == "Point" and set(f["properties"]) == {"count"} for f in features)
    assert sorted(f["properties"]["count"] for f in points["gpkg"]) == sorted(f["properties"]["count"] for f in points["postgis"])
    _same_tile_positions = [(shape(a["geometry"]), shape(b["geometry"])) for a, b in zip(
        sorted(points["gpkg"], key=lambda f: f["geometry"]["coordinates"]), sorted(points["postgis"], key=lambda f: f["geometry"]["coordinates"]), strict=True)]
    assert all(a.distance(b) <= PIXEL for a, b in _same_tile_positions)


def test_a_dense_tile_read_a_page_at_a_time_is_the_tile_read_whole(sample_gpkg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The GeoPackage reads a tile of many features a page at a time, summing per cell
    (``gpkg_dense_tiles``, for a province's millions of cells): the cells, counts and sums of the
    tile read whole, pages of 997 ids or not; a tile with few features is the very same tile."""
    import layers.store.gpkg_dense_tiles as dense

    def decoded(body: bytes, layer: str) -> list[tuple[Any, ...]]:
        return sorted((str(f["geometry"]["coordinates"]), f["properties"]["count"], f["properties"].get("persons", 0.0)) for f in _decode(body, layer))

    with open_store(Settings(store=str(sample_gpkg))) as gpkg:
        for layer, z, most in (("population", 9, vector_tiles.MAX_FEATURES), ("population", 7, vector_tiles.MAX_FEATURES), ("rescue_stations", 8, 50)):
            monkeypatch.setattr(vector_tiles, "MAX_FEATURES", most)
            plan = plan_tile(get_layer(layer), z, *tile_of(*CENTRE, z), restricted=True)
            monkeypatch.setattr(dense, "STREAM_OVER", 10**9)
            whole = decoded(gpkg.vector_tile(plan), layer)
            monkeypatch.setattr(dense, "STREAM_OVER", 0)
            monkeypatch.setattr(dense, "PAGE_ROWS", 997)
            paged = decoded(gpkg.vector_tile(plan), layer)
            assert len(whole) > 10 and sum(cell[1] for cell in whole) > most, (layer, z)
            assert [cell[:2] for cell in paged] == [cell[:2] for cell in whole], (layer, z)
            assert [cell[2] for cell in paged] == pytest.approx([cell[2] for cell in whole], rel=1e-12)
        monkeypatch.setattr(vector_tiles, "MAX_FEATURES", 2_000)
        few = plan_tile(get_layer("rescue_stations"), 12, *tile_of(*CENTRE, 12), restricted=True)
        monkeypatch.setattr(dense, "STREAM_OVER", 10**9)
        alone = gpkg.vector_tile(few)
        monkeypatch.setattr(dense, "STREAM_OVER", 0)
        assert alone and gpkg.vector_tile(few) == alone


def test_roads_keep_the_classes_the_basemap_draws_at_each_zoom(clients: dict[str, TestClient]) -> None:
    assert road_classes_at(8) == ("高速公路", "国道", "省道") and road_classes_at(13) is None
    for z in (8, 10, 12, 13):
        x, y = tile_of(*CENTRE, z)
        classes = {f["properties"]["road_class"] for f in _decode(clients["postgis"].get(_url("roads", z, x, y)).content, "roads")}
        allowed = {name for name, (lowest, _, _) in ROAD_STYLE.items() if lowest <= z}
        assert classes and classes <= allowed, (z, classes)
        if z == 12:
            assert "城市道路" in classes, "the centre's city streets appear from z12"


def test_below_z8_the_roads_of_one_class_and_name_are_one_line(pg_sample: Settings, sample_gpkg: Path) -> None:
    """At z7 over the city: a line per class and name, holding every edge the unmerged tile holds
    (within a pixel), fewer features and fewer bytes; from z8 on, the edges themselves."""
    assert MERGE_ROADS_BELOW == 8
    z = 7
    x, y = tile_of(*CENTRE, z)
    merged_plan = plan_tile(get_layer("roads"), z, x, y, restricted=True)
    assert merged_plan.merge_by == ("road_class", "name") and merged_plan.columns == ("road_class", "name")
    assert not plan_tile(get_layer("roads"), 8, *tile_of(*CENTRE, 8), restricted=True).merge_by
    edges_plan = dataclasses.replace(merged_plan, merge_by=(), columns=get_layer("roads").visible_columns(restricted=True))
    with open_store(pg_sample) as postgis, open_store(Settings(store=str(sample_gpkg))) as gpkg:
        for store in (postgis, gpkg):
            merged, edges = store.vector_tile(merged_plan), store.vector_tile(edges_plan)
            lines, parts = _decode(merged, "roads"), _decode(edges, "roads")
            keys = [(f["properties"]["road_class"], f["properties"].get("name")) for f in lines]
            assert len(keys) == len(set(keys)) == len({(f["properties"]["road_class"], f["properties"].get("name")) for f in parts}), "one line per class and name"
            assert all(set(f["properties"]) <= {"road_class", "name", MERGED} for f in lines)
            assert sum(f["properties"][MERGED] for f in lines) >= len(parts) > 3 * len(lines), (len(parts), len(lines))
            assert len(merged) < len(edges) / 2, (len(merged), len(edges))
            whole = shapely.union_all([shape(f["geometry"]) for f in lines])
            pieces = shapely.union_all([shape(f["geometry"]) for f in parts])
            assert shapely.hausdorff_distance(whole, pieces) <= 2 * PIXEL, "the merged lines draw the same roads"


def _tiles_over_the_city(z: int) -> list[tuple[int, int]]:
    """Every tile over the city at z ≤ 10; above, the 3 × 3 tiles round its centre (its densest)."""
    if z <= 10:
        x0, y0 = tile_of(116.03, 35.93, z)
        x1, y1 = tile_of(117.45, 34.64, z)
        return [(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
    x, y = tile_of(*CENTRE, z)
    return [(x + dx, y + dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)]


def test_no_tile_is_over_500_kib_from_z6_to_z15(pg_sample: Settings, sample_gpkg: Path) -> None:
    largest: dict[str, int] = {}
    with open_store(pg_sample) as postgis, open_store(Settings(store=str(sample_gpkg))) as gpkg:
        for layer in ("roads", "population", "admin_areas", "shelters"):
            spec = get_layer(layer)
            for z in range(6, 16):
                for x, y in _tiles_over_the_city(z):
                    plan = plan_tile(spec, z, x, y, restricted=True)
                    sizes = [len(postgis.vector_tile(plan))] + ([len(gpkg.vector_tile(plan))] if z in (6, 9, 12, 15) else [])
                    largest[layer] = max(largest.get(layer, 0), *sizes)
    print("largest tile by layer, z6-z15 (bytes):", largest)
    assert all(0 < size <= LIMIT_BYTES for size in largest.values()), largest


def test_tileset_documents_and_conformance(clients: dict[str, TestClient]) -> None:
    client = clients["gpkg"]
    conformance = client.get("/conformance").json()["conformsTo"]
    assert {f"http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/{c}" for c in ("core", "tileset", "tilesets-list", "geodata-tilesets", "mvt")} <= set(conformance)
    links = client.get("/collections/roads").json()["links"]
    assert any(link["href"].endswith("/collections/roads/tiles") for link in links)
    listed = TileSets.model_validate(client.get("/collections/roads/tiles").json())
    assert listed.tilesets[0].tileMatrixSetURI.endswith("/WebMercatorQuad")
    metadata = client.get("/collections/roads/tiles/WebMercatorQuad").json()
    tileset = TileSet.model_validate(metadata)
    assert (tileset.minZoom, tileset.maxZoom) == (0, MAX_ZOOM) and tileset.boundingBox is not None
    layer = tileset.layers[0]
    assert layer.id == "roads" and layer.geometryDimension == 1
    assert layer.propertiesSchema.properties["road_class"].enum == list(ROAD_STYLE)
    template = next(link for link in tileset.links if link.rel == "item")
    assert template.templated and template.href.endswith("/collections/roads/tiles/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}")
    x, y = tile_of(*CENTRE, 12)
    filled = template.href.replace("http://testserver", "").format(tileMatrix=12, tileRow=y, tileCol=x)
    assert _decode(client.get(filled).content, "roads")


def test_every_layer_has_a_geometry() -> None:
    """No collection lacks geometry (the catalogue requires one), so none gets the "no geometry" 400."""
    assert all(spec.geometry_type for spec in CATALOGUE.values())


@pytest.mark.parametrize(("path", "status", "words"), [
    ("/collections/roads/tiles/WebMercatorQuad/23/0/0", 400, "zoom must be 0 to 22"),
    ("/collections/roads/tiles/WebMercatorQuad/-1/0/0", 400, "zoom must be 0 to 22"),
    ("/collections/roads/tiles/WebMercatorQuad/3/8/0", 400, "row and column must be 0 to 7"),
    ("/collections/roads/tiles/WebMercatorQuad/3/0/8", 400, "row and column must be 0 to 7"),
    ("/collections/roads/tiles/WebMercatorQuad/3/-1/0", 400, "outside the pyramid"),
    ("/collections/roads/tiles/WorldCRS84Quad/3/0/0", 404, "the only one is WebMercatorQuad"),
    ("/collections/roads/tiles/WorldCRS84Quad", 404, "the only one is WebMercatorQuad"),
    ("/collections/no_such_layer/tiles/WebMercatorQuad/3/0/0", 404, "unknown layer"),
    ("/collections/no_such_layer/tiles", 404, "unknown layer"),
])
def test_bad_tile_addresses_are_refused_with_the_limits(clients: dict[str, TestClient], path: str, status: int, words: str) -> None:
    response = clients["gpkg"].get(path)
    assert response.status_code == status and words in response.json()["description"], response.text
    assert set(response.json()) >= {"code", "description"}


def test_etag_304_and_a_write_moves_the_tag(sample_settings: Settings) -> None:
    with TestClient(create_app(sample_settings)) as client:
        x, y = tile_of(*CENTRE, 14)
        empty = client.get(_url("incidents", 14, x, y))
        assert empty.status_code == 200 and empty.content == b"", "an empty tile is a 200 with an empty body"
        assert empty.headers["cache-control"] == "private, no-cache" and empty.headers["etag"]
        assert client.get(_url("incidents", 14, x, y), headers={"If-None-Match": empty.headers["etag"]}).status_code == 304
        created = client.post("/incidents", json={"lon": CENTRE[0], "lat": CENTRE[1], "kind": "火灾"})
        assert created.status_code == 201, created.text
        after = client.get(_url("incidents", 14, x, y), headers={"If-None-Match": empty.headers["etag"]})
        assert after.status_code == 200 and after.headers["etag"] != empty.headers["etag"]
        assert [f["properties"]["source_id"] for f in _decode(after.content, "incidents")] == [created.json()["id"]]
        roads = client.get(_url("roads", 14, x, y))
        assert client.get(_url("roads", 14, x, y), headers={"If-None-Match": f'W/{roads.headers["etag"]}'}).status_code == 304


def test_restricted_fields_never_go_into_a_viewers_tile(sample_gpkg: Path, tmp_path: Path) -> None:
    settings, accounts, tokens = secured_copy(sample_gpkg, tmp_path, {"viewer": "viewer", "editor": "editor"})
    restricted = {f.name for f in get_layer("hazardous_enterprises").fields if f.restricted}
    x, y = tile_of(*CENTRE, 8)
    url = _url("hazardous_enterprises", 8, x, y)
    try:
        with TestClient(create_app(settings)) as client:
            assert client.get(url).status_code == 401
            seen = {}
            for role in ("viewer", "editor"):
                headers = {"Authorization": f"Bearer {tokens[role]}"}
                features = _decode(client.get(url, headers=headers).content, "hazardous_enterprises")
                seen[role] = set().union(*(f["properties"] for f in features))
                schema = client.get("/collections/hazardous_enterprises/tiles/WebMercatorQuad", headers=headers).json()
                seen[role + " schema"] = set(schema["layers"][0]["propertiesSchema"]["properties"])
            assert restricted and not restricted & (seen["viewer"] | seen["viewer schema"])
            assert restricted <= seen["editor"] and restricted <= seen["editor schema"]
            tags = {role: client.get(url, headers={"Authorization": f"Bearer {tokens[role]}"}).headers["etag"] for role in ("viewer", "editor")}
            assert tags["viewer"] != tags["editor"], "a viewer's tile and an editor's are cached apart"
    finally:
        accounts.close()


def test_plans_state_their_generalisation() -> None:
    x, y = tile_of(*CENTRE, 10)
    plan = plan_tile(get_layer("roads"), 10, x, y, restricted=False)
    west, _, east, _ = plan.bounds_m
    assert plan.tolerance_m == pytest.approx((east - west) / 512) and plan.keep == ("road_class", ("高速公路", "国道", "省道", "县道"))
    assert plan_tile(get_layer("population"), 10, x, y, restricted=False).sums == ("persons",)
    assert plan_tile(get_layer("admin_areas"), 10, x, y, restricted=False).aggregate_over is None
    lon0, lat0, lon1, lat1 = plan.search_deg
    assert lon0 < CENTRE[0] < lon1 and lat0 < CENTRE[1] < lat1
    assert np.isclose(gpd.GeoSeries([shapely.box(*plan.bounds_m)], crs=3857).to_crs(4326).total_bounds, plan.search_deg, atol=0.02).all()
