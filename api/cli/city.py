"""``onemap init`` and ``onemap info``: set up the store's city from its boundary, and show it.

Registered on the ``main`` group of ``api.cli.app`` when ``api.cli`` is imported.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from api.cli.app import _accounts, _cli_actor, _fail_cleanly, _settings, _store, main
from layers.settings import Settings

INIT_HELP = """Set up the store's city from its administrative boundary FILE.

\b
Writes the city profile — name, adcode, the outline, the region (the outline
buffered by ONEMAP_REGION_BUFFER_KM, 5 km) and the work CRS (the CGCS2000
3-degree Gauss-Krüger zone of the outline's centroid, EPSG:4534-4554) — and the
counties (区县) and townships (乡镇街道) of the file into admin_areas, in one
transaction. Every command and the server then measure in that CRS and take
"inside the city" to mean inside the region.

\b
FILE: DataV GeoJSON as published (阿里云 DataV 地图选择器: the city's 370800.json,
or 370800_full.json with its districts; GCJ-02, so --from gcj02), or a plain
GeoJSON, GeoPackage or Shapefile with adcode and name columns (行政区划代码, 名称;
level 级别 and parent 上级区划代码 optional). Self-intersections are repaired
(the polygonal part of make_valid) and reported.

\b
Examples:
  onemap init --boundary 370800_full.json --from gcj02 --name 济宁市
  onemap init --boundary 济宁市区县.shp
  onemap info

\b
On a store that already holds data, a boundary of another city (centre more than
50 km from the stored city's, or outlines not overlapping) is refused unless
--replace (which also deletes the admin areas the new file does not have).
Exit status 2 on bad input; nothing is written then.
"""


@main.command("init", help=INIT_HELP)
@click.option("--boundary", "boundary_path", required=True, type=click.Path(path_type=Path), metavar="FILE", help="The city's boundary: DataV GeoJSON, or GeoJSON/GeoPackage/Shapefile with adcode and name.")
@click.option("--from", "offset_system", type=click.Choice(["gcj02", "bd09"]), help="The file's coordinates are GCJ-02 (DataV, Gaode, Tencent) or BD-09 (Baidu): undo the offset.")
@click.option("--name", help="The city's name (济宁市), overriding the file's; needed for a _full file of districts only.")
@click.option("--layer", "source_layer", help="Layer inside a multi-layer GeoPackage.")
@click.option("--replace", is_flag=True, help="Make this the store's city even if it is far from the stored one (another city).")
@click.pass_context
@_fail_cleanly
def init(ctx: click.Context, boundary_path: Path, offset_system: str | None, name: str | None, source_layer: str | None, replace: bool) -> None:
    from layers.city import init_city
    from layers.io.boundary_file import read_boundary

    boundary = read_boundary(boundary_path, offset_system=offset_system, name=name, layer=source_layer)
    base: Settings = ctx.obj["settings"]  # the environment's settings, not a previous profile's
    result = init_city(_store(ctx), boundary, settings=base, replace=replace)
    for note in result.notes:
        click.echo(f"注意 note: {note}", err=True)
    profile = result.profile
    levels = boundary.areas["level"].value_counts()
    written = result.written["admin_areas"]
    _accounts(ctx).record(_cli_actor(), "init", "city_profile", after=["outline", "region"],
                          detail={"file": str(boundary_path), "city": profile.name, "adcode": profile.adcode, "work_epsg": profile.work_epsg,
                                  "admin_areas": {"inserted": written.inserted, "updated": written.updated, "deleted": result.deleted_admin_areas}})
    x0, y0, x1, y1 = profile.region_bbox
    click.echo(f"城市 city: {profile.name} ({profile.adcode}), {profile.outline_area_km2:,.1f} km²")
    click.echo(f"  work CRS   EPSG:{profile.work_epsg} (CGCS2000 3-degree Gauss-Krüger zone of the centroid)")
    click.echo(f"  region     outline + {profile.region_buffer_km:g} km: {x0:.4f},{y0:.4f} … {x1:.4f},{y1:.4f}")
    click.echo(f"  admin_areas  {int(levels.get('区县', 0))} 区县, {int(levels.get('乡镇街道', 0))} 乡镇街道: {written.inserted} new, {written.updated} updated, {written.unchanged} unchanged")
    effective = base.with_profile(profile)
    overridden = [name for name, source in effective.setting_sources().items() if source == "environment"]
    if overridden:
        click.echo(f"  note: {', '.join('ONEMAP_' + n.upper() for n in overridden)} set in the environment: it overrides the profile", err=True)


def profile_info(settings: Settings, *, counts: dict[str, int] | None = None) -> dict[str, Any]:
    """The profile as ``onemap info --json`` prints it: the city, its values in force and where
    each comes from (``profile``, ``environment`` or ``default``)."""
    profile = settings.city_profile
    return {
        "city": profile.name if profile else None,
        "adcode": profile.adcode if profile else None,
        "work_epsg": settings.work_epsg,
        "region_bbox": [round(v, 6) for v in settings.region_bbox],
        "region_buffer_km": settings.region_buffer_km,
        "region": "outline buffered" if profile and settings.setting_sources()["region_bbox"] != "environment" else "box",
        "outline_area_km2": profile.outline_area_km2 if profile else None,
        "profile_work_epsg": profile.work_epsg if profile else None,
        "source_file": profile.source_file if profile else None,
        "sources": settings.setting_sources(),
        "admin_areas": counts,
    }


@main.command("info")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: city, adcode, work_epsg, region_bbox, region_buffer_km, outline_area_km2, sources.")
@click.pass_context
@_fail_cleanly
def info(ctx: click.Context, as_json: bool) -> None:
    """Show the store's city profile and the values every command uses.

    \b
    Each value says where it comes from: the profile (onemap init, onemap sample),
    the environment (ONEMAP_WORK_EPSG, ONEMAP_REGION_BBOX, ONEMAP_REGION_BUFFER_KM
    override the profile), or the default (no profile: Jining's box, EPSG:4548).

    \b
    Examples:
      onemap info
      onemap info --json | jq .work_epsg
    """
    settings = _settings(ctx)
    counts = None
    if settings.city_profile is not None:
        admin = _store(ctx).read("admin_areas")
        counts = {level: int((admin["level"] == level).sum()) for level in ("市", "区县", "乡镇街道")} if not admin.empty else {}
    data = profile_info(settings, counts=counts)
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    sources = data["sources"]
    if settings.city_profile is None:
        click.echo("城市 city: no city profile in this store — run onemap init --boundary FILE (or onemap sample)")
    else:
        click.echo(f"城市 city: {data['city']} ({data['adcode']}), {data['outline_area_km2']:,.1f} km², from {data['source_file'] or 'unknown'}")
    click.echo(f"  work CRS   EPSG:{data['work_epsg']}  [{sources['work_epsg']}]")
    x0, y0, x1, y1 = data["region_bbox"]
    click.echo(f"  region     {'outline + ' + format(data['region_buffer_km'], 'g') + ' km' if data['region'] == 'outline buffered' else 'box'}: {x0:.4f},{y0:.4f} … {x1:.4f},{y1:.4f}  [{sources['region_bbox']}]")
    if counts:
        click.echo(f"  admin_areas  {counts.get('区县', 0)} 区县, {counts.get('乡镇街道', 0)} 乡镇街道")
