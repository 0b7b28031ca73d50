"""``onemap coverage`` and ``onemap coverage site``: shelter coverage gaps, and where to build."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from tqdm import tqdm

from api.cli.app import F, _fail_cleanly, _pad, _settings, _store, main
from api.cli.cluster_options import cluster_options
from layers.services.cluster import ClusterInfo, cluster

if TYPE_CHECKING:
    import geopandas as gpd

    from gis.coverage.analysis import CoverageResult
    from layers.services.coverage import CoverageService

_COVERAGE_STEPS = 7  # reading, checking, reach, gaps, assignment, tables, writing


def _coverage_options(command: F) -> F:
    """--type/--mode/--out/--population/--crs, shared by ``coverage`` and ``coverage site``."""
    options = [
        click.option("--type", "analysis_type", type=click.Choice(["紧急", "固定", "all"]), default=None,
                     help="紧急: every shelter as an emergency shelter, 10-min reach, all residents; 固定: fixed + central shelters, 35-min reach, 30 % of residents; all: each shelter with its own type's reach. [default: 紧急]"),
        click.option("--mode", type=click.Choice(["network", "euclidean"]), default=None,
                     help="network: walking time along roads (default); euclidean: straight-line distance, for comparison only."),
        click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                     help="Folder for coverage.gpkg, coverage_townships.xlsx and coverage_map.html. [default: ./coverage]"),
        click.option("--population", "population_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="Use this population grid (GeoTIFF, or polygons with 人口/persons) instead of the store's."),
        click.option("--crs", "population_crs", default=None, help="CRS of --population when the file does not say (e.g. EPSG:4548)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _coverage_run(ctx: click.Context, analysis_type: str, mode: str, population_file: Path | None, population_crs: str | None, bar: tqdm[Any]) -> tuple[CoverageService, Callable[[str], None], gpd.GeoDataFrame | None]:
    from layers.services.coverage import CoverageService, read_population_file
    from layers.services.routing import RoutingService

    settings = _settings(ctx)
    store = _store(ctx)
    population = read_population_file(population_file, settings, crs=population_crs) if population_file else None

    def step(label: str) -> None:
        bar.set_postfix_str(label)
        bar.update(1)

    return CoverageService(store, settings, RoutingService(store, settings)), step, population


def _print_coverage(result: CoverageResult) -> None:
    from gis.coverage import MODE_LABELS

    totals = result.totals
    total, covered, over = totals["residents"], totals["residents_covered"], totals["shelters_over_capacity"]
    click.echo(f"避难场所覆盖 shelter coverage — type {result.analysis_type}, {MODE_LABELS[result.mode]} ({result.mode}), walking {result.params.walk_kmh:g} km/h")
    click.echo(f"  residents covered   {covered:>14,.0f} of {total:,.0f} ({100 * covered / max(total, 1):.1f} %)")
    click.echo(f"  uncovered residents {total - covered:>14,.0f} in {len(result.gaps):,} gap polygons")
    click.echo(f"  shelters            {len(result.shelters):>14,}  ({over} over capacity: load ratio > 1)")
    click.echo(f"  cannot be placed    {totals['unplaced_persons']:>14,.0f} persons (capacity-respecting assignment; mean walk {result.assignment.mean_minutes:.1f} min)")
    for note in result.notes:
        click.echo(f"  note: {note}", err=True)
    if not result.areas.empty:
        worst = result.areas.loc[result.areas["level"] == "乡镇街道"].nlargest(5, "residents_uncovered")
        click.echo("  most uncovered townships 未覆盖人口最多的乡镇:")
        for row in worst.itertuples():
            click.echo(f"    {_pad(str(row.name), 14)} {row.residents_uncovered:>10,.0f} of {row.residents:>10,.0f}  shortfall {row.capacity_shortfall_persons:>10,.0f}")


def _partitions(on_cluster: tuple[Any, ClusterInfo] | None, mode: str) -> Any:
    """The cluster's task runner for the walking reach, saying where it runs; None in this process
    (and in euclidean mode, one tree query that partitions would only slow)."""
    if on_cluster is None:
        return None
    if mode != "network":
        click.echo("  note: euclidean mode runs in this process (--workers and --scheduler partition the network reach)", err=True)
        return None
    click.echo(f"  {on_cluster[1].describe()}", err=True)
    return on_cluster[0]


@main.group(invoke_without_command=True)
@_coverage_options
@cluster_options
@click.pass_context
@_fail_cleanly
def coverage(ctx: click.Context, analysis_type: str | None, mode: str | None, out_dir: Path | None, population_file: Path | None, population_crs: str | None,
             workers: int | None, scheduler: str | None) -> None:
    """Shelter coverage gaps: who cannot walk to a shelter in time, which shelters are too small,
    and who cannot be placed — per cell, shelter, township and county.

    \b
    Writes into --out (default ./coverage), all or nothing:
      coverage.gpkg            cells, gaps, shelters (load), townships, counties, parameters
      coverage_townships.xlsx  the township and county tables (Chinese headers, units)
      coverage_map.html        choropleth of uncovered residents, gaps, shelters by load (offline)
    \b
    Examples:
      onemap coverage                                   emergency shelters, walking network
      onemap coverage --type 固定 --out out/fixed
      onemap coverage --mode euclidean                  straight-line, to compare with buffers
      onemap coverage site --p 10                       10 new sites covering the most uncovered
      onemap coverage site --p 5 --candidates schools.geojson --capacitated
      onemap coverage --workers 2                       walking reach per county on 2 local processes
      onemap coverage --scheduler tcp://10.0.0.5:8786   on an existing Dask cluster
    \b
    Settings (environment): ONEMAP_WALK_SPEED_KMH (4.5), ONEMAP_SHELTER_REACH_MIN
    ('{"紧急":10,"固定":35,"中心":60}'), ONEMAP_SHELTER_DEMAND_SHARE ('{"紧急":1,"固定":0.3,"中心":0.3}'),
    ONEMAP_AREA_PER_PERSON_M2 (1.5).
    """
    ctx.obj["coverage"] = {"analysis_type": analysis_type, "mode": mode, "out_dir": out_dir, "population_file": population_file, "population_crs": population_crs,
                           "workers": workers, "scheduler": scheduler}
    if ctx.invoked_subcommand is not None:
        return
    from layers.io.coverage_output import to_coverage_files
    from web.coverage_map import coverage_map_html

    with cluster(workers, scheduler) as on_cluster, tqdm(total=_COVERAGE_STEPS, desc="避难场所覆盖 coverage", unit="step", file=sys.stderr) as bar:
        service, step, population = _coverage_run(ctx, analysis_type or "紧急", mode or "network", population_file, population_crs, bar)
        result = service.result(analysis_type or "紧急", mode or "network", population=population, progress=step, run_partitions=_partitions(on_cluster, mode or "network"))
        step("写出 writing")
        paths = to_coverage_files(out_dir or Path("coverage"), result, render_map=lambda r, s: coverage_map_html(r, s))
    _print_coverage(result)
    for path in paths:
        click.echo(f"  wrote {path}")


@coverage.command("site")
@_coverage_options
@click.option("--p", "p", type=int, default=10, show_default=True, help="How many new shelters to site (maximal covering).")
@click.option("--candidates", default=None, help="Candidate sites: a layer name or a GIS file (schools, parks, squares). Default: generated on populated land in the gaps, one per 2 km × 2 km block.")
@click.option("--spacing-m", type=click.FloatRange(100, 50_000), default=2000.0, show_default=True, help="Lattice spacing (m) of generated candidates: one per block. Smaller = more candidates, slower.")
@click.option("--capacitated", is_flag=True, help="A new site covers at most its capacity (capacity_persons, else 2,000 m² / area per person).")
@click.option("--model", type=click.Choice(["mclp", "lscp"]), default="mclp", show_default=True, help="mclp: p sites covering the most uncovered residents; lscp: the fewest sites covering every coverable resident.")
@click.pass_context
@_fail_cleanly
def coverage_site(ctx: click.Context, analysis_type: str | None, mode: str | None, out_dir: Path | None, population_file: Path | None, population_crs: str | None, p: int, candidates: str | None, spacing_m: float, capacitated: bool, model: str) -> None:
    """Recommend where to build new shelters: the sites covering the most uncovered residents
    (MILP solved to optimality by HiGHS; the gap is printed), on the map and in the GeoPackage.

    \b
    Examples:
      onemap coverage site --p 10
      onemap coverage site --model lscp
      onemap coverage site --candidates schools.gpkg --capacitated
    """
    from layers.io.coverage_output import to_coverage_files
    from web.coverage_map import coverage_map_html

    shared = ctx.obj.get("coverage", {})
    analysis_type = analysis_type or shared.get("analysis_type") or "紧急"
    mode = mode or shared.get("mode") or "network"
    out_dir = out_dir or shared.get("out_dir") or Path("coverage")
    population_file = population_file or shared.get("population_file")
    population_crs = population_crs or shared.get("population_crs")
    with cluster(shared.get("workers"), shared.get("scheduler")) as on_cluster, tqdm(total=_COVERAGE_STEPS + 1, desc="选址 siting", unit="step", file=sys.stderr) as bar:
        service, step, population = _coverage_run(ctx, analysis_type, mode, population_file, population_crs, bar)
        result = service.result(analysis_type, mode, population=population, progress=step, run_partitions=_partitions(on_cluster, mode))
        siting = service.site(p, candidates=candidates, capacitated=capacitated, model=model, spacing_m=spacing_m, result=result, progress=step)
        step("写出 writing")
        paths = to_coverage_files(out_dir, result, siting=siting, render_map=lambda r, s: coverage_map_html(r, s))
    _print_coverage(result)
    solution = siting.solution
    click.echo(f"建议新建 recommended sites ({solution.model}, {siting.candidates:,} candidates, optimality gap {100 * solution.mip_gap:.2f} %):")
    if siting.persons_sheltered is None:
        for row in siting.sites.itertuples():
            click.echo(f"  {row.rank:>3}  {_pad(str(row.name), 12)} {row.geometry.x:.5f},{row.geometry.y:.5f}  +{row.residents_newly_covered:>9,.0f} residents")
        click.echo(f"  newly covered {siting.residents_newly_covered:,.0f} of {siting.residents_uncovered_before:,.0f} uncovered residents"
                   + (f"; {siting.residents_uncoverable:,.0f} no candidate can reach" if siting.residents_uncoverable else ""))
    else:
        # The capacitated objective: persons placed within each site's capacity, not residents in reach.
        share = result.params.share(result.analysis_type)
        for row in siting.sites.itertuples():
            click.echo(f"  {row.rank:>3}  {_pad(str(row.name), 12)} {row.geometry.x:.5f},{row.geometry.y:.5f}  {row.persons_sheltered:>9,.0f} persons sheltered of {row.capacity_persons:,.0f} capacity")
        click.echo(f"  容量约束 capacitated objective: {siting.persons_sheltered:,.0f} persons sheltered within capacity, of "
                   f"{share * siting.residents_uncovered_before:,.0f} needing shelter ({100 * share:.0f} % of {siting.residents_uncovered_before:,.0f} uncovered residents)"
                   + (f"; {siting.residents_uncoverable:,.0f} residents no candidate can reach" if siting.residents_uncoverable else ""))
    for path in paths:
        click.echo(f"  wrote {path}")


# --- risk zoning ---------------------------------------------------------------------------------
