"""``onemap layers``, ``sample``, ``import`` and ``export``: what the store holds, and data in and out of it."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click
import numpy as np
from tqdm import tqdm

from api.cli.app import (
    EXIT_ROWS_REJECTED,
    PROBLEMS_SHOWN,
    _cli_actor,
    _fail_cleanly,
    _pad,
    _settings,
    _store,
    _width,
    main,
)
from layers.catalogue import CATALOGUE, LayerSpec, layer_names
from layers.store import LayerInfo, Store

if TYPE_CHECKING:
    import geopandas as gpd


def format_layer_table(infos: Sequence[LayerInfo]) -> str:
    """The layer table: name, Chinese title, count, lon/lat extent."""
    header = ("图层 layer", "名称 title", "数量 count", "范围 extent (lon/lat)")
    rows = [
        (
            i.name,
            i.title_zh,
            f"{i.count:,}",
            "—" if i.bbox is None else f"{i.bbox[0]:.3f},{i.bbox[1]:.3f} … {i.bbox[2]:.3f},{i.bbox[3]:.3f}",
        )
        for i in infos
    ]
    widths = [max(_width(r[k]) for r in [header, *rows]) for k in range(4)]
    lines = ["  ".join(_pad(cell, widths[k], right=k == 2) for k, cell in enumerate(row)) for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _print_layers(store: Store, as_json: bool) -> None:
    infos = store.list_layers()
    if as_json:
        click.echo(json.dumps([
            {"name": i.name, "title_zh": i.title_zh, "title_en": i.title_en, "geometry_type": i.geometry_type, "count": i.count, "bbox": list(i.bbox) if i.bbox else None}
            for i in infos
        ], ensure_ascii=False, indent=2))
    else:
        click.echo(format_layer_table(infos))


@main.command()
@click.option("--json", "as_json", is_flag=True, help="A JSON list of {name, title_zh, title_en, geometry_type, count, bbox}; with --fields, the fields.")
@click.option("--fields", "fields_of", type=click.Choice(layer_names()), metavar="LAYER", help="List LAYER's fields instead: Chinese label, unit, required, allowed values and the ledger headers each recognises.")
@click.pass_context
@_fail_cleanly
def layers(ctx: click.Context, as_json: bool, fields_of: str | None) -> None:
    """List the layers with their feature counts and extents, or one layer's fields.

    \b
    Examples:
      onemap layers
      onemap layers --fields reservoirs     what a reservoir ledger may hold, and how
    """
    if fields_of is not None:
        from layers.io.field_guide import describe_fields, format_fields

        rows = describe_fields(fields_of)
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2) if as_json else format_fields(fields_of, rows))
        return
    _print_layers(_store(ctx), as_json)


def _load_sample(store: Store, seed: int) -> None:
    from layers.sample import STEPS, write_sample

    with tqdm(total=len(STEPS) + 1, desc="样例城市 sample city", unit="step", file=sys.stderr) as bar:
        def advance(step: str) -> None:
            bar.set_postfix_str(step)
            bar.update(1)

        results = write_sample(store, seed, progress=advance)
        bar.update(len(STEPS) + 1 - bar.n)
    written = sum(r.written for r in results.values())
    unchanged = sum(r.unchanged for r in results.values())
    click.echo(f"sample city (seed {seed}): {written:,} features written, {unchanged:,} already there unchanged", err=True)


def _load_province(store: Store, seed: int, *, prefectures: int | None, coarse: bool) -> None:
    from dataclasses import replace

    from layers.sample import province

    size = province.MINI if coarse else province.PROVINCE
    if prefectures is not None:
        size = replace(size, prefectures=prefectures)
    # The bar counts work done (each step weighted by its usual time), so its ETA means something.
    total = size.prefectures * sum(province.STEP_WEIGHTS[s] for s in province.PREFECTURE_STEPS) + province.STEP_WEIGHTS["profile"]
    running: list[str] = []
    with tqdm(total=total, desc="样例省 sample province", unit="", file=sys.stderr, bar_format="{l_bar}{bar}| [{elapsed}<{remaining}{postfix}]") as bar:
        def advance(number: int, name: str, step: str) -> None:
            if running:
                bar.update(province.STEP_WEIGHTS[running.pop()])
            running.append(step)
            bar.set_postfix_str(f"{number + 1}/{size.prefectures} {name} {step}" if step != "profile" else "profile")

        results = province.write_province(store, seed, size=size, progress=advance)
        bar.update(total - bar.n)
    written = sum(r.written for r in results.values())
    unchanged = sum(r.unchanged for r in results.values())
    click.echo(f"sample province (seed {seed}, {size.prefectures} prefectures): {written:,} features written, {unchanged:,} already there unchanged", err=True)


@main.command()
@click.option("--seed", type=int, default=None, help="Generator seed (default $ONEMAP_SAMPLE_SEED, 370800). Same seed, same city.")
@click.option("--dem", "dem_path", type=click.Path(dir_okay=False, path_type=Path), help="Also write the sample city's synthetic DEM (90 m, EPSG:4548) to this GeoTIFF, for dam breaks and the slope factor.")
@click.option("--scale", type=click.Choice(["city", "province"]), default="city", show_default=True,
              help="city: the sample city. province: 16 sample-city prefectures at 100 m (≈ 3 M road edges, 16 M population cells, 30,000 facilities; tens of minutes, several GB).")
@click.option("--prefectures", type=click.IntRange(1, 16), default=None, help="With --scale province: only the first N prefectures (default 16).")
@click.option("--coarse", is_flag=True, hidden=True, help="With --scale province: 2 km cells and 2 km road spacing (tests, smoke runs).")
@click.pass_context
@_fail_cleanly
def sample(ctx: click.Context, seed: int | None, dem_path: Path | None, scale: str, prefectures: int | None, coarse: bool) -> None:
    """Write the sample city (a synthetic Jining) to the store, or with --scale province a
    synthetic Shandong-sized province of 16 such prefectures.

    Real where facts are known (county towns, Nansi Lake, the hilly east, the published counts:
    248 reservoirs, 135 shelters, 668 rescue stations …), synthetic elsewhere. Upserts by source
    id in one transaction (the province: per prefecture): re-running changes nothing.

    \b
    Examples:
      onemap sample
      onemap --store ./var/test.gpkg sample --seed 7
      onemap sample --dem var/sample-dem.tif
      onemap --store /tmp/province.gpkg sample --scale province
    """
    chosen = seed if seed is not None else _settings(ctx).sample_seed
    if scale == "province":
        if dem_path is not None:
            raise click.UsageError("--dem is the sample city's DEM: not with --scale province")
        _load_province(_store(ctx), chosen, prefectures=prefectures, coarse=coarse)
        return
    if prefectures is not None or coarse:
        raise click.UsageError("--prefectures is for --scale province")
    _load_sample(_store(ctx), chosen)
    if dem_path is not None:
        from layers.io.dem_file import to_dem_tiff
        from layers.sample import sample_dem

        dem = sample_dem(chosen)
        to_dem_tiff(dem_path, dem.elevation, dem.transform, dem.epsg)
        click.echo(f"sample DEM (synthetic, {dem.transform.a:g} m, EPSG:{dem.epsg}): {dem_path}", err=True)


IMPORT_HELP = """Import FILE into LAYER: GeoJSON, GeoPackage, Shapefile, CSV, XLSX (or a GeoTIFF into population).

\b
Ledgers import as bureaus publish them. Columns match fields by name, Chinese
label or ledger header (编号, 水库名称, 经度(°), 总库容(万m³) …), after folding
full-width forms, spaces and brackets; a unit in the header is converted to the
field's unit (万m³/亿m³ → m³, 亩/公顷/km² → m², km → m). Titles above the header
are skipped (or say --header-row N). Coordinates: 经度/纬度 in decimal degrees or
度分秒, one 经纬度 column ("116.59,35.41"), WKT, or Gauss-Krüger X/Y (the
surveyors' X = northing is detected). Values as ledgers write them map to the
layer's own (紧急避难场所 → 紧急, Ⅱ/II/2 → Ⅱ). A file without a CRS is recognised
from its coordinates and the assumption printed.

\b
Every row is validated; placeholder points, duplicate rows and implausible
magnitudes ("unit 万m³?") are warnings. The whole file is written in one
transaction, upserted by source id (re-importing the same file changes nothing).
See a layer's fields, units, allowed values and recognised headers with
onemap layers --fields LAYER; try a file first with --dry-run.

\b
Examples:
  onemap import reservoirs 水库台账.xlsx --dry-run
  onemap import reservoirs 水库.csv --map 库容万方=capacity_m3
  onemap import rescue_stations 高德导出.csv --from gcj02 --set kind=消防站
  onemap import shelters 避难场所.xlsx --strict --report problems.csv

\b
Exit status: 0 all rows imported; 1 some rows rejected (see the report; with --strict
nothing was written) or, with --strict-warnings, rows warned about; 2 the file cannot
be imported at all.

\b
Layers: """ + ", ".join(CATALOGUE)


@main.command("import", help=IMPORT_HELP)
@click.argument("layer", type=click.Choice(layer_names()), metavar="LAYER")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--encoding", help="Text encoding of a CSV or shapefile .dbf (utf-8, gbk, gb18030). Default: detected.")
@click.option("--crs", help="The file's CRS as an EPSG code (4326, 4490, 4548, 4527 …), when it declares none or declares it wrongly.")
@click.option("--from", "offset_system", type=click.Choice(["gcj02", "bd09"]), help="Coordinates were copied from Gaode/Tencent (gcj02) or Baidu (bd09) maps: undo the offset.")
@click.option("--map", "mapping", multiple=True, metavar="SRC=FIELD[:UNIT]", help="Feed a column to a field (repeatable; one column may feed several), e.g. --map 库容万方=capacity_m3 or --map 库容=总库容:万m³. FIELD: a field's name or Chinese label, or source_id, lon, lat, lonlat, wkt. Without :UNIT the header's own unit applies.")
@click.option("--set", "constants", multiple=True, metavar="FIELD=VALUE", help="Give every row this value, e.g. --set kind=消防站 for a list copied from a web map (repeatable).")
@click.option("--header-row", type=click.IntRange(min=1), help="The header's row number as a spreadsheet shows it (default: found among the first 20 rows).")
@click.option("--strict", is_flag=True, help="Write nothing at all if any row has an error.")
@click.option("--strict-warnings", is_flag=True, help="Write nothing at all if any row has an error or a warning.")
@click.option("--dry-run", is_flag=True, help="Print the column → field mapping (units, conversions), the first five rows as they would be stored and the report; write nothing.")
@click.option("--report", "report_path", type=click.Path(path_type=Path), help="Also write the per-row report (row, source_id, field, severity, problem) to this CSV.")
@click.option("--sheet", help="XLSX sheet name (default: the first).")
@click.option("--source-layer", help="Layer inside a multi-layer file (GeoPackage).")
@click.pass_context
@_fail_cleanly
def import_(ctx: click.Context, layer: str, file: Path, encoding: str | None, crs: str | None, offset_system: str | None, mapping: tuple[str, ...],
            constants: tuple[str, ...], header_row: int | None, strict: bool, strict_warnings: bool, dry_run: bool, report_path: Path | None,
            sheet: str | None, source_layer: str | None) -> None:
    from layers.catalogue import get_layer
    from layers.io.import_report import ImportOptions, to_problem_report
    from layers.io.importer import import_file

    settings = _settings(ctx)
    options = ImportOptions(crs=crs, offset_system=offset_system, mapping=mapping, constants=constants, header_row=header_row,
                            encoding=encoding, sheet=sheet, source_layer=source_layer, strict=strict, strict_warnings=strict_warnings)
    report = import_file(_store(ctx), layer, file, settings=settings, options=options, dry_run=dry_run, actor=_cli_actor())
    spec = get_layer(layer)
    if dry_run:
        click.echo("列 → 字段 column → field:")
        for plan in report.plans:
            click.echo(f"  {plan.describe(spec)}")
    for note in report.notes:
        click.echo(f"注意 note: {note}", err=True)
    if dry_run and report.preview is not None:
        click.echo(f"前 {len(report.preview)} 行（将存储为） first rows as they would be stored:")
        click.echo(format_preview(spec, report.preview))
    for problem in report.problems[:PROBLEMS_SHOWN]:
        click.secho(f"{file}: {problem}", fg="red" if problem.severity == "error" else "yellow", err=True)
    if len(report.problems) > PROBLEMS_SHOWN:
        click.echo(f"… {len(report.problems) - PROBLEMS_SHOWN} more problems (use --report FILE.csv)", err=True)
    if report_path is not None:
        to_problem_report(report.problems, report_path)
        click.echo(f"report: {report_path}", err=True)
    written = report.written
    warnings = f", {len(report.warnings)} warnings" if report.warnings else ""
    summary = f"{layer} ← {file}: {report.total_rows} rows read, {report.accepted_rows} valid, {report.rejected_rows} rejected{warnings}"
    if written is not None:
        summary += f"; written: {written.inserted} new, {written.updated} updated, {written.unchanged} unchanged"
    else:
        summary += "; nothing written"
    click.echo(summary)
    if report.errors or (strict_warnings and report.warnings):
        sys.exit(EXIT_ROWS_REJECTED)


def format_preview(spec: LayerSpec, frame: gpd.GeoDataFrame) -> str:
    """Rows as they would be stored: one block per row, field label = value (geometry as WKT)."""
    import shapely

    lines = []
    for position in range(len(frame)):
        row = frame.iloc[position]
        lines.append(f"  [{position + 1}] source_id = {row['source_id']}")
        for f in spec.fields:
            value = row[f.name]
            if value is None or (isinstance(value, float) and np.isnan(value)):
                continue
            lines.append(f"      {f.name} {f.display_label} = {value}")
        lines.append(f"      geometry = {shapely.to_wkt(row.geometry, rounding_precision=7)[:120]}")
    return "\n".join(lines)


@main.command("export")
@click.argument("layer", type=click.Choice(layer_names()), metavar="LAYER")
@click.argument("file", type=click.Path(path_type=Path))
@click.pass_context
@_fail_cleanly
def export_(ctx: click.Context, layer: str, file: Path) -> None:
    """Export LAYER to FILE: .gpkg, .geojson, .shp (UTF-8 with .cpg), .csv or .xlsx (Chinese headers).

    \b
    Examples:
      onemap export shelters 避难场所.xlsx
      onemap export roads roads.gpkg
    """
    from layers.io.exporter import to_layer_file

    count = to_layer_file(_store(ctx), layer, file)
    click.echo(f"{layer} → {file}: {count:,} features")
