"""``onemap export-tiles``: the offline field kit, the layers and the basemap as PMTiles archives."""

from __future__ import annotations

import signal
import sys
from functools import partial
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from api.cli.app import _fail_cleanly, _store, main

BASEMAP_SUFFIX = "-basemap"
"""The basemap archive is written beside the layers' one: ``city.pmtiles`` → ``city-basemap.pmtiles``."""


def basemap_path(out: Path) -> Path:
    """Where the basemap archive of ``out`` goes (same folder, ``-basemap`` before the suffix)."""
    return out.with_name(f"{out.stem}{BASEMAP_SUFFIX}{out.suffix or '.pmtiles'}")


def _names(value: str | None) -> list[str] | None:
    return [name.strip() for name in value.split(",") if name.strip()] if value else None


def _terminated(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _megabytes(size: int) -> str:
    return f"{size / 1_048_576:,.1f} MB"


@main.command("export-tiles")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="The layers' archive (.pmtiles); the basemap goes beside it as NAME-basemap.pmtiles.")
@click.option("--max-zoom", type=click.IntRange(0, 22), default=15, show_default=True, help="The deepest zoom (z15: a tile is about 1 km wide; each zoom more is 4× the tiles).")
@click.option("--min-zoom", type=click.IntRange(0, 22), default=8, show_default=True, help="The shallowest zoom (z8: the whole city in a few tiles).")
@click.option("--layers", "layer_names", metavar="NAME,…", default=None, help="Layers to export (catalogue names). Default: every layer with data except the live ones (incidents, alerts, road_closures) and risk_zones.")
@click.option("--basemap/--no-basemap", default=True, show_default=True, help="Also write the offline basemap (PNG tiles).")
@click.pass_context
@_fail_cleanly
def export_tiles(ctx: click.Context, out: Path, max_zoom: int, min_zoom: int, layer_names: str | None, basemap: bool) -> None:
    """The offline field kit (离线图包): the city's layers as vector tiles and its basemap as PNG
    tiles, each a PMTiles v3 archive, for phones with no network.

    \b
    Writes (all or nothing: temporary files, then renamed):
      OUT                    the layers: one Mapbox Vector Tile per tile (gzip), a layer each
      OUT-basemap.pmtiles    the basemap onemap draws itself: land, water, boundaries, roads (PNG)
    Over the city's region (`onemap info`), zooms --min-zoom to --max-zoom; with viewer
    clearance only (no restricted field: the kit goes to the field). At most 2,000,000 tiles.
    The share page (/s/…) opens the files from the phone: 离线图包 → 打开图包文件.
    \b
    Examples:
      onemap export-tiles --out city.pmtiles
      onemap export-tiles --out kit/jining.pmtiles --max-zoom 13
      onemap export-tiles --out roads.pmtiles --layers roads,shelters,supply_depots --no-basemap
    """
    from api.vector_tiles import plan_tile
    from api.wallmap import BASEMAP_LAYERS
    from layers.city import read_city_profile
    from layers.errors import InputError
    from layers.io.pmtiles_export import (
        ArchiveJob,
        LayersTile,
        basemap_metadata,
        check_tile_count,
        kit_layers,
        tiles_covering,
        vector_metadata,
        write_archives,
    )
    from web.basemap import prepare_basemap, render_basemap_tile

    store = _store(ctx)
    profile = read_city_profile(store)
    if profile is None:
        raise InputError("the store has no city profile: run `onemap init --boundary …` (or `onemap sample`) first")
    bounds = profile.region_bbox
    check_tile_count(bounds, min_zoom=min_zoom, max_zoom=max_zoom)
    layers = kit_layers(store, _names(layer_names))
    tiles = tiles_covering(profile.region, min_zoom=min_zoom, max_zoom=max_zoom)
    out.parent.mkdir(parents=True, exist_ok=True)

    def planner(spec: Any, z: int, x: int, y: int) -> Any:
        return plan_tile(spec, z, x, y, restricted=False)  # viewer clearance, whoever runs this

    jobs = [ArchiveJob(out, tiles, LayersTile(store, layers, planner), "mvt", bounds,
                       vector_metadata(layers, planner, city=profile.name, adcode=profile.adcode, min_zoom=min_zoom, max_zoom=max_zoom))]
    if basemap:
        drawn = prepare_basemap(*(store.read(layer) for layer in BASEMAP_LAYERS))
        jobs.append(ArchiveJob(basemap_path(out), tiles, partial(render_basemap_tile, drawn), "png", bounds,
                               basemap_metadata(city=profile.name, adcode=profile.adcode)))
    click.echo(f"离线图包 field kit — {profile.name}, zooms {min_zoom}–{max_zoom}, {len(tiles):,} tiles per archive, layers: {', '.join(s.name for s in layers)}", err=True)
    before = signal.signal(signal.SIGTERM, _terminated)  # a kill, like Ctrl-C, removes the temporary files
    try:
        with tqdm(total=len(tiles) * len(jobs), desc="离线图包 tiles", unit="tile", file=sys.stderr) as bar:
            written = write_archives(jobs, progress=bar.update)
    finally:
        signal.signal(signal.SIGTERM, before)
    for summary in written:
        click.echo(f"  wrote {summary.path}  {summary.tiles:,} tiles (z{summary.min_zoom}–{summary.max_zoom}, {summary.contents:,} distinct)  {_megabytes(summary.size_bytes)}")
