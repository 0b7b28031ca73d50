"""``onemap risk``: the four-level risk zoning, written as GeoTIFF, polygons and a map."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from tqdm import tqdm

from api.cli.app import _fail_cleanly, _settings, _store, main
from api.cli.cluster_options import cluster_options


@main.command()
@click.option("--resolution", "resolution_m", type=click.FloatRange(10, 5000), default=100.0, show_default=True, help="Grid cell size in metres (EPSG:4548); 30 works too.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None, help="YAML with weights (or an AHP matrix), factor parameters and the classification.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("risk"), show_default=True, help="Folder for the outputs.")
@click.option("--straight-line", is_flag=True, help="Capacity from straight-line distance to rescue stations instead of drive time on the roads.")
@click.option("--dem", "dem_path", type=click.Path(dir_okay=False, path_type=Path), default=None, help="A DEM GeoTIFF (any CRS): adds the slope factor.")
@cluster_options
@click.pass_context
@_fail_cleanly
def risk(ctx: click.Context, resolution_m: float, config_path: Path | None, out_dir: Path, straight_line: bool, dem_path: Path | None, workers: int | None, scheduler: str | None) -> None:
    """Risk zoning: hazards × exposure with weak response capacity, graded 重大/较大/一般/低.

    \b
    Writes into --out (all or nothing):
      risk_score.tif, risk_level.tif   cloud-optimised GeoTIFFs (level 1=低 … 4=重大, 0 = nodata)
      risk.gpkg                        level polygons, per-area table, parameters
      risk_areas.xlsx                  km² and residents per level, per township and county
      risk_map.html                    levels in the official colours, hazard sources (offline)
    \b
    Config (YAML), every key optional:
      weights: {reservoirs: 0.25, geohazard_points: 0.15, chemical_parks: 0.15,
                hazardous_enterprises: 0.15, flood_prone_areas: 0.2, capacity: 0.1}
      # or: ahp: {factors: [reservoirs, flood_prone_areas, capacity], matrix: [[1,2,3],[0.5,1,2],[0.33,0.5,1]]}
      factors: {reservoirs: {decay: {kind: exp, scale_m: 3000, max_m: 12000}}}
      classification: natural      # or quantiles, or fixed with breaks: [0.1, 0.2, 0.35]

    \b
    Examples:
      onemap risk
      onemap risk --resolution 30 --dem dem.tif --out risk-30m
      onemap risk --config weights.yaml --straight-line
      onemap risk --workers 2                          partitioned by county on 2 local processes
      onemap risk --scheduler tcp://10.0.0.5:8786      on an existing Dask cluster
    """
    from layers.io.risk_output import store_level_polygons, to_risk_files
    from layers.services.cluster import cluster
    from layers.services.risk import HAZARD_LAYERS, RiskService, read_config, read_dem
    from layers.services.routing import RoutingService
    from web.risk_map import risk_map_html

    config = read_config(config_path)
    dem = read_dem(dem_path) if dem_path else None
    settings = _settings(ctx)
    store = _store(ctx)
    with cluster(workers, scheduler) as on_cluster, tqdm(total=6 if on_cluster else 5, desc="风险区划 risk", unit="step", file=sys.stderr) as bar:
        def step(label: str) -> None:
            bar.set_postfix_str(label)
            bar.update(1)

        result = RiskService(store, settings, RoutingService(store, settings)).run(
            resolution_m=resolution_m, config=config, use_roads=not straight_line, dem=dem, progress=step, run_tasks=on_cluster[0] if on_cluster else None, release_graph=True)
        sources = {name: store.read(name) for name in HAZARD_LAYERS}
        admin = store.read("admin_areas")
        townships = admin.loc[admin["level"] == "乡镇街道"]
        step("写出 writing")
        paths = to_risk_files(out_dir, result, render_map=lambda r: risk_map_html(r, sources, townships))
        stored = store_level_polygons(store, result)
    click.echo(f"风险区划 risk zoning — {result.grid.width:,} × {result.grid.height:,} cells of {resolution_m:g} m; capacity: {result.metadata()['capacity_label']}")
    for name in ("重大", "较大", "一般", "低"):
        total = result.level_totals[name]
        click.echo(f"  {name}  {total['area_km2']:10,.1f} km²  {total['residents']:12,.0f} residents")
    if on_cluster:
        click.echo(f"  {on_cluster[1].describe()}")
    for note in result.notes:
        click.echo(f"  note: {note}", err=True)
    for path in paths:
        click.echo(f"  wrote {path}")
    click.echo(f"  stored {stored} level polygons in layer risk_zones ({resolution_m:g} m)")
