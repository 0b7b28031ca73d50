"""Vector tiles of a share link (``/s/{token}/collections/{layer}/tiles/…``): the layers of its scope
only, over its area only, never a restricted field; unknown token 404, revoked 410 (as every /s/
route). The links are stored directly (no routing snapshot): the tiles read only scope and extent."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mapbox_vector_tile
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from layers.accounts.store import new_token
from layers.catalogue import get_layer
from layers.settings import Settings
from layers.store import open_store
from web.tile_grid import tile_of

pytestmark = pytest.mark.xdist_group("share-tiles")  # its module fixtures are built once, on one worker (--dist loadgroup)

CENTRE = (116.59, 35.41)
AREA = (116.50, 35.33, 116.68, 35.49)
"""The links' area (lon/lat): about 16 × 18 km round the sample city's centre."""
SCOPE = ["hazardous_enterprises", "flood_prone_areas", "shelters"]
RESTRICTED = {f.name for f in get_layer("hazardous_enterprises").fields if f.restricted}


@pytest.fixture(scope="module")
def served(sample_gpkg: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Settings]]:
    """One app on a copy of the sample city for this module (its tests add links, nothing else)."""
    copy = tmp_path_factory.mktemp("share-tiles") / "store.gpkg"
    shutil.copy(sample_gpkg, copy)
    settings = Settings(store=str(copy))
    with TestClient(create_app(settings)) as client:
        yield client, settings


def _link(client: TestClient, scope: list[str] = SCOPE) -> tuple[str, str]:
    """A new active link over ``AREA``: (its id, its token)."""
    share, token = client.app.state.accounts.add_share(title="测试", created_by="admin", hours=1, scope=scope,
                                                      snapshot={"extent": list(AREA), "point": {"lon": CENTRE[0], "lat": CENTRE[1]}})
    return share.id, token


def _url(layer: str, z: int, x: int, y: int, token: str | None = None) -> str:
    return (f"/s/{token}" if token else "") + f"/collections/{layer}/tiles/WebMercatorQuad/{z}/{y}/{x}"


def _features(body: bytes, layer: str) -> list[dict[str, Any]]:
    return list(mapbox_vector_tile.decode(body).get(layer, {}).get("features", [])) if body else []


def test_a_link_gets_its_layers_tiles_without_restricted_fields(served: tuple[TestClient, Settings]) -> None:
    client, _ = served
    _, token = _link(client)
    x, y = tile_of(*CENTRE, 11)
    full = client.get(_url("hazardous_enterprises", 11, x, y))  # auth off: an admin, who sees restricted fields
    assert full.status_code == 200
    assert RESTRICTED and set(_features(full.content, "hazardous_enterprises")[0]["properties"]) >= RESTRICTED, "the wall map's own tile has them"
    shared = client.get(_url("hazardous_enterprises", 11, x, y, token))
    assert shared.status_code == 200 and shared.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    features = _features(shared.content, "hazardous_enterprises")
    assert features, "the link's enterprises are drawn"
    for feature in features:
        assert not RESTRICTED & set(feature["properties"]), feature["properties"]
        assert feature["properties"]["name"] and feature["properties"]["source_id"]
    tag = shared.headers["etag"]
    assert tag != full.headers["etag"], "a tile cut to the link's area is not the full tile"
    assert client.get(_url("hazardous_enterprises", 11, x, y, token), headers={"If-None-Match": tag}).status_code == 304
    polygons = client.get(_url("flood_prone_areas", 11, x, y, token))
    assert polygons.status_code == 200 and _features(polygons.content, "flood_prone_areas")


def test_a_low_zoom_tile_of_a_link_holds_only_its_area(served: tuple[TestClient, Settings]) -> None:
    client, settings = served
    _, token = _link(client)
    x, y = tile_of(*CENTRE, 7)  # a tile of a whole region: the city and beyond
    full = {f["properties"]["source_id"] for f in _features(client.get(_url("shelters", 7, x, y)).content, "shelters")}
    shared = {f["properties"]["source_id"] for f in _features(client.get(_url("shelters", 7, x, y, token)).content, "shelters")}
    with open_store(settings) as store:
        inside = set(store.read("shelters", bbox=AREA)["source_id"])
    assert inside and shared == inside, "exactly the shelters of the link's area"
    assert len(full) > len(shared), "the city's other shelters stay with the command centre"


def test_a_link_refuses_other_layers_and_places(served: tuple[TestClient, Settings]) -> None:
    client, _ = served
    _, token = _link(client)
    x, y = tile_of(*CENTRE, 12)
    for layer in ("roads", "population", "rescue_stations", "no_such_layer"):
        response = client.get(_url(layer, 12, x, y, token))
        assert response.status_code == 404, layer
        assert "shelters" in response.json()["description"], "it names what the link shows"
    far = tile_of(117.5, 35.9, 12)
    assert client.get(_url("shelters", 12, *far, token)).status_code == 404, "outside the link's area"
    assert client.get(_url("shelters", 12, x, y, token).replace("WebMercatorQuad", "WorldCRS84Quad")).status_code == 404
    assert client.get(_url("shelters", 5, 40, 3, token)).status_code == 400, "outside the pyramid: the limits, as the wall map's tiles"


def test_revoked_and_unknown_links_get_no_tiles(served: tuple[TestClient, Settings]) -> None:
    client, _ = served
    share_id, token = _link(client)
    x, y = tile_of(*CENTRE, 12)
    assert client.get(_url("shelters", 12, x, y, token)).status_code == 200
    client.app.state.accounts.revoke_share(share_id)
    gone = client.get(_url("shelters", 12, x, y, token))
    assert gone.status_code == 410 and "revoked" in gone.json()["description"]
    assert client.get(_url("shelters", 12, x, y, new_token())).status_code == 404
