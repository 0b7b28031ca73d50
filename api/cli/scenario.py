"""``onemap scenario plume`` and ``onemap scenario area``: a hazard's footprint, the people it
reaches, the facilities inside and what the displaced need."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from api.cli.app import _cli_actor, _fail_cleanly, _pad, _settings, _store, _width, main
from api.cli.cluster_options import cluster_options
from layers.services.cluster import cluster

F = TypeVar("F", bound=Callable[..., Any])

if TYPE_CHECKING:
    from gis.scenario.needs import NeedsProfile
    from layers.services.scenarios import ScenarioOutcome


@main.group()
def scenario() -> None:
    """What a hazard would reach: the footprint, residents and displaced per township, the
    shelters, rescue stations and depots inside, where the displaced walk to (usable shelters
    with room, within 60 minutes), and the displaced persons' minimum needs.

    \b
    Examples:
      onemap scenario plume --at 116.59,35.41 --wind-from 45 --wind-speed 3 --stability D --rate 1000 --thresholds 58,5.8,1.5
      onemap scenario area flood_extent.geojson --zone-field depth_class --json
      onemap scenario area flood_extent.geojson --stocks 库存台账.xlsx
      onemap scenario dam-break --reservoir SK0001 --dem var/sample-dem.tif

    Every scenario is stored (as a 预案, a what-if) and its id printed: the wall map and
    GET /scenarios/{id} show it, onemap brief --scenario ID writes its brief. --activate makes
    it 生效中 at once: the roads inside its footprint close (routing avoids them) until
    onemap scenario end ID. --no-save only prints. Depot stocks come from the store (onemap
    stocks import), or from a ledger file given with --stocks.

    
      onemap scenario list
      onemap scenario activate SC20261203221500-1a2b3c
      onemap scenario end SC20261203221500-1a2b3c
    """


_profile_option = click.option("--profile", "profile_name", default="inasafe", show_default=True,
                               help="Minimum-needs profile: inasafe (InaSAFE's defaults), china (the Chinese relief norms found), or a YAML file.")
_days_option = click.option("--days", type=click.FloatRange(min=0, min_open=True), help="Days of needs (default: the profile's).")
_stocks_option = click.option("--stocks", "stocks_path", type=click.Path(path_type=Path),
                              help="A depot stock ledger (CSV/XLSX: 储备库 depot id or name, 物资 item, 数量 quantity, 单位 unit): sends the needs from the depots by road and says what is short.")
_json_option = click.option("--json", "as_json", is_flag=True, help="Print the scenario as JSON: id, kind, zones, impact, facilities_inside, needs, shortfalls.")
_name_option = click.option("--name", help="The scenario's name (default: its kind, place and time).")
_incident_option = click.option("--incident", "incident_id", help="The incident (source id) this scenario belongs to; its brief includes it.")
_activate_option = click.option("--activate", is_flag=True, help="Store it as 生效中 (active): the roads inside the footprint close until onemap scenario end ID.")
_no_save_option = click.option("--no-save", is_flag=True, help="Only print: store nothing.")


def _common(command: F) -> F:
    """What every scenario command takes besides its footprint: profile, days, stocks, --json,
    how it is stored (--name, --incident, --activate, --no-save), and where the residents are
    weighted (--workers N, --scheduler: per county on dask.distributed)."""
    decorated: Any = command
    for decorate in (_fail_cleanly, click.pass_context, cluster_options, _no_save_option, _activate_option, _incident_option, _name_option,
                     _json_option, _stocks_option, _days_option, _profile_option):
        decorated = decorate(decorated)
    return decorated


@contextmanager
def _partitions(workers: int | None, scheduler: str | None) -> Iterator[Any]:
    """The cluster's runner for the impact's county partitions (saying where it runs), or None."""
    with cluster(workers, scheduler) as on_cluster:
        if on_cluster is not None:
            click.echo(f"  impact: {on_cluster[1].describe()}", err=True)
        yield on_cluster[0] if on_cluster is not None else None


def _finish(ctx: click.Context, outcome: ScenarioOutcome, as_json: bool, name: str | None, incident_id: str | None, activate: bool, no_save: bool) -> None:
    """Store the outcome (unless --no-save), then print it."""
    if no_save:
        if activate or incident_id:
            raise click.UsageError("--activate and --incident store the scenario: leave out --no-save")
        _show(outcome, as_json)
        return
    from layers.services.scenario_records import save_outcome

    stored, record = save_outcome(_store(ctx), _settings(ctx), outcome, name=name, incident_id=incident_id, active=activate, actor=_cli_actor())
    _show(stored, as_json)
    if not as_json:
        closed = f"; 道路封闭 roads closed: {record.closure_id}" if record.closure_id else ""
        click.echo(f"已保存 stored as {record.id} ({record.status}){closed}. 简报 brief: onemap brief --scenario {record.id} --out brief.pdf")


def _profile(name: str) -> NeedsProfile:
    from layers.io.needs_profile import SHIPPED_PROFILES, read_needs_profile, shipped_needs_profile

    return shipped_needs_profile(name) if name in SHIPPED_PROFILES else read_needs_profile(Path(name))


def _point(text: str) -> tuple[float, float]:
    try:
        lon, lat = (float(part) for part in text.split(","))
    except ValueError:
        raise click.BadParameter(f"{text!r}: give LON,LAT in degrees, e.g. 116.59,35.41") from None
    return lon, lat


def _numbers(text: str, what: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise click.BadParameter(f"{text!r}: give {what} as numbers separated by commas") from None


@scenario.command("plume")
@click.option("--at", "at", required=True, help="Release point LON,LAT (degrees, WGS 84).")
@click.option("--wind-from", type=float, required=True, help="Direction the wind blows FROM, degrees clockwise from north (45 = north-east wind: the gas goes south-west).")
@click.option("--wind-speed", type=float, required=True, help="Wind speed at the release height, m/s (≥ 0.5).")
@click.option("--stability", required=True, help="Pasquill–Gifford stability class A (very unstable) … D (neutral, overcast) … F (stable, clear night).")
@click.option("--rate", type=float, required=True, help="Release rate, g/s.")
@click.option("--thresholds", required=True, help="Concentrations bounding the three zones, mg/m³, most severe first (e.g. AEGL-3,AEGL-2,AEGL-1 of the substance).")
@click.option("--duration", "duration_min", type=float, help="How long the release lasts, minutes (default: it goes on).")
@click.option("--height", "height_m", type=float, default=0.0, show_default=True, help="Release height above ground, m.")
@_common
def scenario_plume(ctx: click.Context, at: str, wind_from: float, wind_speed: float, stability: str, rate: float, thresholds: str, duration_min: float | None, height_m: float, profile_name: str, days: float | None, stocks_path: Path | None, as_json: bool, name: str | None, incident_id: str | None, activate: bool, no_save: bool,
                  workers: int | None, scheduler: str | None) -> None:
    """A chemical release as a Gaussian plume (Briggs open-country dispersion, ground reflection):
    zones where the ground-level concentration reaches each threshold; everyone inside is
    counted as displaced.

    \b
    Examples:
      onemap scenario plume --at 116.59,35.41 --wind-from 45 --wind-speed 3 --stability D --rate 1000 --thresholds 58,5.8,1.5
      onemap scenario plume --at 116.59,35.41 --wind-from 270 --wind-speed 2 --stability F --rate 500 --duration 30 --thresholds 58,5.8,1.5 --json
    (58, 5.8 and 1.5 mg/m³ are chlorine's 60-minute AEGL-3, -2 and -1.)
    """
    from layers.services.scenarios import plume_scenario

    lon, lat = _point(at)
    with _partitions(workers, scheduler) as run_partitions:
        outcome = plume_scenario(_store(ctx), _settings(ctx), lon=lon, lat=lat, wind_from_deg=wind_from, wind_speed_ms=wind_speed, stability=stability,
                                 release_g_s=rate, thresholds_mg_m3=_numbers(thresholds, "thresholds"), duration_min=duration_min, release_height_m=height_m,
                                 profile=_profile(profile_name), days=days, stocks_path=stocks_path, run_partitions=run_partitions)
    _finish(ctx, outcome, as_json, name, incident_id, activate, no_save)


@scenario.command("area")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--zone-field", help="The field that classes the polygons (a depth class, a zone name); default: zone, depth_class, 水深等级, 水深, 等级 or 分区, else one zone.")
@click.option("--order", help="The zone values, most severe first, comma-separated (default: as they first appear in the file).")
@click.option("--displaced", "displaced_rate", type=click.FloatRange(0, 1), default=1.0, show_default=True, help="Share of the residents of every zone who are displaced (InaSAFE's rate for a high/medium zone is 1).")
@_common
def scenario_area(ctx: click.Context, path: Path, zone_field: str | None, order: str | None, displaced_rate: float, profile_name: str, days: float | None, stocks_path: Path | None, as_json: bool, name: str | None, incident_id: str | None, activate: bool, no_save: bool,
                  workers: int | None, scheduler: str | None) -> None:
    """A drawn or imported hazard area (a flood extent, a waterlogging polygon) in any GIS file and
    CRS, with depth classes or zone names where its features carry them.

    \b
    Examples:
      onemap scenario area flood_extent.geojson
      onemap scenario area waterlogging.gpkg --zone-field 水深 --order ">3m,1.5-3m,0.5-1.5m" --json
    """
    from layers.io.hazard_area import read_hazard_area
    from layers.services.scenarios import area_scenario

    zones = read_hazard_area(path, zone_field=zone_field, order=[z.strip() for z in order.split(",")] if order else None)
    with _partitions(workers, scheduler) as run_partitions:
        outcome = area_scenario(_store(ctx), _settings(ctx), zones, source=str(path), profile=_profile(profile_name), days=days, displacement=displaced_rate,
                                stocks_path=stocks_path, run_partitions=run_partitions)
    _finish(ctx, outcome, as_json, name, incident_id, activate, no_save)


@scenario.command("dam-break")
@click.option("--reservoir", "reservoir_id", required=True, help="The reservoir's source id (编号) in the store.")
@click.option("--dem", "dem_path", type=click.Path(dir_okay=False, path_type=Path), required=True, help="A DEM GeoTIFF (any CRS it declares) over the dam and its valley; onemap sample --dem FILE writes the sample city's.")
@click.option("--cell", "cell_m", type=click.FloatRange(min=5, max=500), default=30.0, show_default=True, help="Cell size the DEM is read at around the dam, m.")
@click.option("--level", "level_m", type=float, help="Water level at the dam, m (same datum as the DEM); default: the reservoir's current level in the store, else its capacity alone.")
@click.option("--reach-km", type=click.FloatRange(min=1, max=200), default=40.0, show_default=True, help="How far downstream the flood is followed, km.")
@_common
def scenario_dam_break(ctx: click.Context, reservoir_id: str, dem_path: Path, cell_m: float, level_m: float | None, reach_km: float, profile_name: str, days: float | None, stocks_path: Path | None, as_json: bool, name: str | None, incident_id: str | None, activate: bool, no_save: bool,
                  workers: int | None, scheduler: str | None) -> None:
    """A dam break: the downstream flood from the DEM by a simplified, volume-limited method
    (Froehlich's peak outflow, attenuating downstream, depths by height above the flow path,
    the released volume never exceeded), in depth classes with arrival-time bands. A first
    estimate for planning, not a hydraulic model.

    \b
    Examples:
      onemap sample --dem var/sample-dem.tif
      onemap scenario dam-break --reservoir SK0001 --dem var/sample-dem.tif
      onemap scenario dam-break --reservoir SK0001 --dem dem.tif --level 152.5 --stocks 库存台账.xlsx --json
    """
    from layers.services.dam_break_scenario import dam_break_scenario

    with _partitions(workers, scheduler) as run_partitions:
        outcome = dam_break_scenario(_store(ctx), _settings(ctx), reservoir_id=reservoir_id, dem_path=dem_path, cell_m=cell_m, level_m=level_m, reach_km=reach_km,
                                     profile=_profile(profile_name), days=days, stocks_path=stocks_path, run_partitions=run_partitions)
    _finish(ctx, outcome, as_json, name, incident_id, activate, no_save)


@scenario.command("list")
@click.option("--status", type=click.Choice(["预案", "生效中", "已结束"]), help="Only scenarios of this status.")
@click.option("--incident", "incident_id", help="Only the scenarios of this incident.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.pass_context
@_fail_cleanly
def scenario_list(ctx: click.Context, status: str | None, incident_id: str | None, limit: int) -> None:
    """The stored scenarios, newest first: id, kind, status, residents and displaced, name.

    \b
    Examples:
      onemap scenario list
      onemap scenario list --status 生效中
      onemap scenario list --incident INC20261203221500-1a2b3c
    """
    from layers.services.scenario_records import SCENARIO_KINDS_ZH

    records = _store(ctx).list_scenarios(status=status, incident_id=incident_id, limit=limit)
    if not records:
        click.echo("没有情景 no scenarios stored (make one: onemap scenario plume|area|dam-break …)")
        return
    rows = [(r.id, SCENARIO_KINDS_ZH.get(r.kind, r.kind), r.status, f"{r.residents:,}", f"{r.displaced:,}", r.incident_id or "", f"{r.created_at:%Y-%m-%d %H:%M}", r.name)
            for r in records]
    _table(("情景 id", "类型 kind", "状态 status", "人口 residents", "转移 displaced", "事件 incident", "创建 created", "名称 name"), rows, right=(3, 4))


@scenario.command("activate")
@click.argument("scenario_id")
@click.pass_context
@_fail_cleanly
def scenario_activate(ctx: click.Context, scenario_id: str) -> None:
    """Make a stored 预案 scenario active: the roads inside its footprint close (routing, coverage
    and the wall map avoid them) until it ends.

    \b
    Examples:
      onemap scenario activate SC20261203221500-1a2b3c
    """
    from layers.services.scenario_records import activate_scenario

    record = activate_scenario(_store(ctx), _settings(ctx), scenario_id, actor=_cli_actor())
    click.echo(f"{record.id}: {record.status}" + (f", 道路封闭 roads closed: {record.closure_id}" if record.closure_id else ", no roads inside the region to close"))


@scenario.command("end")
@click.argument("scenario_id")
@click.pass_context
@_fail_cleanly
def scenario_end(ctx: click.Context, scenario_id: str) -> None:
    """End a scenario: its road closure, if still in force, is lifted with it.

    \b
    Examples:
      onemap scenario end SC20261203221500-1a2b3c
    """
    from layers.services.scenario_records import end_scenario

    record = end_scenario(_store(ctx), _settings(ctx), scenario_id, actor=_cli_actor())
    click.echo(f"{record.id}: {record.status}" + (f", 道路封闭 {record.closure_id} lifted" if record.closure_id else ""))


def _show(outcome: ScenarioOutcome, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(outcome.to_json(), ensure_ascii=False))
        return
    for warning in outcome.warnings:
        click.secho(f"注意 warning: {warning}", fg="yellow", err=True)
    impact = outcome.impact
    click.echo(f"情景 scenario {outcome.id}: 影响人口 residents {impact.total_residents:,.0f} 人, 需转移 displaced {impact.total_displaced:,.0f} 人")
    rows = [(str(z.zone), f"{z.area_km2:.2f}") for z in outcome.zones.itertuples()]
    _table(("分区 zone", "面积 km²"), rows, right=(1,))
    towns = [(str(r["name"]), str(r["zone"]), f"{r['residents']:,.0f}", f"{r['displaced']:,.0f}") for r in impact.by_township.to_dict("records")]
    if towns:
        _table(("乡镇街道 township", "分区 zone", "人口 residents", "转移 displaced"), towns, right=(2, 3))
    from layers.catalogue import get_layer

    facilities = [(get_layer(str(r["layer"])).title_zh, str(r["name"]), str(r["zone"])) for r in outcome.facilities.drop(columns="geometry").to_dict("records")]
    if facilities:
        click.echo("区内设施 facilities inside (shelters there cannot be used):")
        _table(("图层 layer", "名称 name", "分区 zone"), facilities, right=())
    evacuation = outcome.evacuation
    if impact.total_displaced > 0:
        click.echo(f"转移安置 evacuation (≤ {evacuation.walk_min:g} 分钟步行 min walk): 安置 placed {evacuation.placed:,.0f} 人, 未安置 unplaced {evacuation.unplaced:,.0f} 人")
        shelters = [(str(r["name"]), str(r["shelter_type"]), f"{r['assigned']:,.0f}", f"{r['capacity']:,.0f}") for r in evacuation.shelters.to_dict("records")]
        if shelters:
            _table(("避难场所 shelter", "类型 type", "安置 assigned", "容量 capacity"), shelters, right=(2, 3))
    needs = [(str(r["name_zh"]), f"{r['quantity']:,.1f}".removesuffix(".0"), str(r["unit"])) for r in outcome.needs.to_dict("records")]
    click.echo(f"基本生活需求 minimum needs, {outcome.days:g} 天 days ({outcome.profile.name}):")
    _table(("物资 item", "数量 quantity", "单位 unit"), needs, right=(1,))
    if outcome.allocation is not None:
        names = {i.item: i.name_zh for i in outcome.profile.items}
        stock_rows = [(names.get(str(r["item"]), str(r["item"])), _amount(r["needed"]), _amount(r["available"]), _amount(r["sent"]), _amount(r["short"]), str(r["unit"]))
                for r in outcome.allocation.by_item.to_dict("records")]
        click.echo("库存调拨 from depot stocks (by road, around the closures and the footprint):")
        _table(("物资 item", "需求 needed", "库存 available", "调拨 sent", "缺口 short", "单位 unit"), stock_rows, right=(1, 2, 3, 4))


def _amount(value: object) -> str:
    return f"{float(str(value)):,.1f}".removesuffix(".0")


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]], *, right: tuple[int, ...]) -> None:
    widths = [max(_width(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(_pad(cell, widths[i], right=i in right) for i, cell in enumerate(row)))
