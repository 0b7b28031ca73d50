"""The offline field kit (``layers/io/pmtiles_export``, ``onemap export-tiles``): the sample city
exported at zooms 8–9 and read back with the PMTiles reference reader — the header's type, zooms
and bounds; every tile decodes and holds what ``Store.vector_tile`` gives for that tile; no
restricted field; the basemap's PNGs; the tile limit; a failed export leaves nothing behind."""

from __future__ import annotations

import gzip
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mapbox_vector_tile
import pytest
import shapely
from pmtiles.reader import MmapSource, Reader, all_tiles
from pmtiles.tile import Compression, TileType, zxy_to_tileid

from api.vector_tiles import plan_tile
from api.wallmap import BASEMAP_LAYERS
from layers.catalogue import get_layer
from layers.city import CityProfile, read_city_profile
from layers.errors import InputError
from layers.io.pmtiles_export import (
    ArchiveJob,
    LayersTile,
    basemap_metadata,
    check_tile_count,
    count_tiles,
    tiles_covering,
    vector_metadata,
    write_archives,
)
from layers.settings import Settings
from layers.store import Store
from layers.store.gpkg import GeoPackageStore
from tests.helpers import run_cli
from web.basemap import prepare_basemap, render_basemap_tile
from web.tile_grid import WEB_MERCATOR_QUAD

pytestmark = pytest.mark.xdist_group("pmtiles-export")  # its module fixtures are built once, on one worker (--dist loadgroup)

LAYERS = ("admin_areas", "roads", "shelters", "hazardous_enterprises")
"""A kit small enough to test quickly, with a restricted layer (the enterprises' category and
major-hazard level are for editors only)."""
ZOOMS = (8, 9)


def _viewer_plan(spec: Any, z: int, x: int, y: int) -> Any:
    return plan_tile(spec, z, x, y, restricted=False)


def _layers(tile: bytes) -> dict[str, Any]:
    return dict(mapbox_vector_tile.decode(tile))


@pytest.fixture(scope="module")
def city(sample_gpkg: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, CityProfile]]:
    copy = tmp_path_factory.mktemp("kit-store") / "store.gpkg"
    shutil.copy(sample_gpkg, copy)
    store = GeoPackageStore(copy)
    profile = read_city_profile(store)
    assert profile is not None
    yield store, profile
    store.close()


@pytest.fixture(scope="module")
def kit(city: tuple[Store, CityProfile], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The sample city's kit at zooms 8–9: the layers and the basemap."""
    store, profile = city
    folder = tmp_path_factory.mktemp("kit")
    specs = [get_layer(name) for name in LAYERS]
    tiles = tiles_covering(profile.region, min_zoom=ZOOMS[0], max_zoom=ZOOMS[1])
    drawn = prepare_basemap(*(store.read(layer) for layer in BASEMAP_LAYERS))
    jobs = [
        ArchiveJob(folder / "city.pmtiles", tiles, LayersTile(store, specs, _viewer_plan), "mvt", profile.region_bbox,
                   vector_metadata(specs, _viewer_plan, city=profile.name, adcode=profile.adcode, min_zoom=ZOOMS[0], max_zoom=ZOOMS[1])),
        ArchiveJob(folder / "city-basemap.pmtiles", tiles, lambda z, x, y: render_basemap_tile(drawn, z, x, y), "png", profile.region_bbox,
                   basemap_metadata(city=profile.name, adcode=profile.adcode)),
    ]
    steps: list[int] = []
    summaries = write_archives(jobs, progress=steps.append)
    return {"folder": folder, "tiles": tiles, "summaries": summaries, "steps": steps}


def _read(path: Path) -> tuple[dict[str, Any], dict[str, Any], dict[tuple[int, int, int], bytes]]:
    with path.open("rb") as handle:
        reader = Reader(MmapSource(handle))
        return reader.header(), reader.metadata(), {tuple(zxy): bytes(data) for zxy, data in all_tiles(reader.get_bytes)}  # type: ignore[misc]


def test_the_tiles_cover_the_region_in_tile_id_order(city: tuple[Store, CityProfile], kit: dict[str, Any]) -> None:
    _, profile = city
    tiles = kit["tiles"]
    assert [zxy_to_tileid(*t) for t in tiles] == sorted(zxy_to_tileid(*t) for t in tiles)
    assert {z for z, _, _ in tiles} == set(ZOOMS)
    assert len(tiles) <= count_tiles(profile.region_bbox, min_zoom=ZOOMS[0], max_zoom=ZOOMS[1])
    for z, x, y in tiles:
        box = WEB_MERCATOR_QUAD.bounds(x, y, z)
        assert shapely.intersects(profile.region, shapely.box(*box)), (z, x, y)
    assert len(kit["steps"]) == 2 * len(tiles), "progress: one step per tile drawn, each archive"


def test_the_layers_archive_reads_back(city: tuple[Store, CityProfile], kit: dict[str, Any]) -> None:
    store, profile = city
    header, metadata, tiles = _read(kit["folder"] / "city.pmtiles")
    assert header["tile_type"] == TileType.MVT and header["tile_compression"] == Compression.GZIP
    assert (header["min_zoom"], header["max_zoom"]) == ZOOMS
    west, south, east, north = profile.region_bbox
    assert (header["min_lon_e7"], header["min_lat_e7"], header["max_lon_e7"], header["max_lat_e7"]) == tuple(round(v * 1e7) for v in (west, south, east, north))
    assert metadata["onemap"]["city"] == profile.name == "济宁市" and metadata["onemap"]["clearance"] == "viewer"
    assert metadata["attribution"] and metadata["onemap"]["generated"].endswith("+00:00")
    described = {layer["id"]: layer for layer in metadata["vector_layers"]}
    assert list(described) == list(LAYERS)
    assert described["shelters"]["fields"]["capacity_persons"] == "Number" and described["roads"]["fields"]["road_class"] == "String"
    summary = kit["summaries"][0]
    assert summary.tiles == len(tiles) == header["addressed_tiles_count"] and summary.size_bytes == (kit["folder"] / "city.pmtiles").stat().st_size
    assert set(tiles) <= set(kit["tiles"]) and len(tiles) >= 8
    # every z8 tile holds, layer by layer, what the store gives for that tile
    for (z, x, y), body in tiles.items():
        if z != ZOOMS[0]:
            continue
        got = _layers(gzip.decompress(body))
        for name in LAYERS:
            expected = _layers(store.vector_tile(plan_tile(get_layer(name), z, x, y, restricted=False)))
            assert len(got.get(name, {}).get("features", [])) == len(expected.get(name, {}).get("features", [])), (name, z, x, y)
    assert any("roads" in _layers(gzip.decompress(body)) for body in tiles.values())


def test_no_restricted_field_goes_into_the_kit(city: tuple[Store, CityProfile], kit: dict[str, Any]) -> None:
    store, _ = city
    _, metadata, tiles = _read(kit["folder"] / "city.pmtiles")
    restricted = {f.name for f in get_layer("hazardous_enterprises").fields if f.restricted}
    assert restricted == {"category", "major_hazard_level"}
    fields = next(layer["fields"] for layer in metadata["vector_layers"] if layer["id"] == "hazardous_enterprises")
    assert not restricted & set(fields)
    seen: set[str] = set()
    for body in tiles.values():
        for feature in _layers(gzip.decompress(body)).get("hazardous_enterprises", {}).get("features", []):
            seen |= set(feature["properties"])
    assert "name" in seen and not restricted & seen
    # an editor's tile of the same place would hold them: the check above can fail
    z, x, y = next(t for t, body in tiles.items() if "hazardous_enterprises" in _layers(gzip.decompress(body)))
    editors = _layers(store.vector_tile(plan_tile(get_layer("hazardous_enterprises"), z, x, y, restricted=True)))
    assert restricted <= {key for f in editors["hazardous_enterprises"]["features"] for key in f["properties"]}


def test_the_basemap_archive_holds_png_tiles(city: tuple[Store, CityProfile], kit: dict[str, Any]) -> None:
    _, profile = city
    header, metadata, tiles = _read(kit["folder"] / "city-basemap.pmtiles")
    assert header["tile_type"] == TileType.PNG and header["tile_compression"] == Compression.NONE
    assert (header["min_zoom"], header["max_zoom"]) == ZOOMS and header["min_lon_e7"] == round(profile.region_bbox[0] * 1e7)
    assert set(tiles) == set(kit["tiles"]), "the basemap has every tile over the region"
    assert all(body.startswith(b"\x89PNG\r\n\x1a\n") for body in tiles.values())
    assert metadata["onemap"]["kind"] == "basemap" and metadata["format"] == "png"


def test_a_request_over_the_tile_limit_is_refused(city: tuple[Store, CityProfile]) -> None:
    _, profile = city
    bbox = profile.region_bbox
    assert check_tile_count(bbox, min_zoom=8, max_zoom=15) < 2_000_000
    with pytest.raises(InputError, match=r"more than the limit of 2,000,000: lower --max-zoom to 1[5-8] or less"):
        check_tile_count(bbox, min_zoom=8, max_zoom=19)
    with pytest.raises(InputError, match=r"more than the limit of 100: lower --max-zoom to 10 or less"):
        check_tile_count(bbox, min_zoom=8, max_zoom=12, limit=100)
    with pytest.raises(InputError, match="--min-zoom 10 must be"):
        check_tile_count(bbox, min_zoom=10, max_zoom=9)


def test_a_failed_export_leaves_nothing_behind(city: tuple[Store, CityProfile], tmp_path: Path) -> None:
    """The first archive is complete, the second fails half-way: neither path changes, no
    temporary file stays."""
    _, profile = city
    tiles = tiles_covering(profile.region, min_zoom=8, max_zoom=8)
    kept = tmp_path / "city.pmtiles"
    kept.write_bytes(b"the kit of yesterday")
    drawn: list[tuple[int, int, int]] = []

    def failing(z: int, x: int, y: int) -> bytes:
        drawn.append((z, x, y))
        if len(drawn) == 2:
            raise OSError("disk full")
        return b"\x89PNG\r\n\x1a\nnot really"

    jobs = [ArchiveJob(tmp_path / "other.pmtiles", tiles, lambda z, x, y: b"\x89PNG\r\n\x1a\n", "png", profile.region_bbox),
            ArchiveJob(kept, tiles, failing, "png", profile.region_bbox)]
    with pytest.raises(OSError, match="disk full"):
        write_archives(jobs)
    assert kept.read_bytes() == b"the kit of yesterday"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["city.pmtiles"], "no partial or temporary file"
    with pytest.raises(InputError, match="holds anything"):
        write_archives([ArchiveJob(tmp_path / "empty.pmtiles", tiles, lambda z, x, y: b"", "mvt", profile.region_bbox)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["city.pmtiles"]


def test_the_command_writes_the_kit(sample_settings: Settings, tmp_path: Path) -> None:
    out = tmp_path / "kit" / "jining.pmtiles"
    result = run_cli(sample_settings, "export-tiles", "--out", str(out), "--min-zoom", "8", "--max-zoom", "8", "--layers", "shelters,supply_depots")
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.stdout and f"wrote {out.with_name('jining-basemap.pmtiles')}" in result.stdout
    assert " MB" in result.stdout and "tiles (z8–8" in result.stdout
    header, metadata, tiles = _read(out)
    assert header["tile_type"] == TileType.MVT and [layer["id"] for layer in metadata["vector_layers"]] == ["shelters", "supply_depots"]
    assert {name for body in tiles.values() for name in _layers(gzip.decompress(body))} == {"shelters", "supply_depots"}
    assert _read(out.with_name("jining-basemap.pmtiles"))[0]["tile_type"] == TileType.PNG

    refused = run_cli(sample_settings, "export-tiles", "--out", str(tmp_path / "big.pmtiles"), "--max-zoom", "19")
    assert refused.exit_code == 2 and "lower --max-zoom to" in refused.stderr
    unknown = run_cli(sample_settings, "export-tiles", "--out", str(tmp_path / "x.pmtiles"), "--layers", "roads,nope", "--max-zoom", "8")
    assert unknown.exit_code == 2 and "nope" in unknown.stderr
    assert not (tmp_path / "big.pmtiles").exists() and not (tmp_path / "x.pmtiles").exists()
    usage = run_cli(sample_settings, "export-tiles", "--help")
    assert "Examples:" in usage.stdout and "onemap export-tiles --out city.pmtiles" in usage.stdout
