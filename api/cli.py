"""The ``onemap`` command line. Thin: every command calls layers/gis and prints the result.

Exit status: 0 success; 1 an import rejected rows (the report says which); 2 bad input or a
store that cannot be used (the message says what to do).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import unicodedata
from collections.abc import Callable, Sequence
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
import numpy as np
from tqdm import tqdm

from layers.catalogue import CATALOGUE, layer_names
from layers.errors import OnemapError
from layers.settings import Settings
from layers.store import LayerInfo, Store, open_store

F = TypeVar("F", bound=Callable[..., Any])
EXIT_ROWS_REJECTED = 1
EXIT_BAD_INPUT = 2
PROBLEMS_SHOWN = 50


def _fail_cleanly(command: F) -> F:
    """Domain errors become one line on stderr and exit status 2, never a traceback."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except OnemapError as error:
            click.secho(f"错误 Error: {error}", fg="red", err=True)
            sys.exit(EXIT_BAD_INPUT)

    return wrapper  # type: ignore[return-value]


def _settings(ctx: click.Context) -> Settings:
    """The settings with the store's city profile applied (``Settings.with_profile``), resolved
    once per command; a GeoPackage that does not exist yet has no profile (and is not created)."""
    if "resolved_settings" not in ctx.obj:
        from layers.city import read_city_profile

        base: Settings = ctx.obj["settings"]
        exists = base.is_postgis or "store" in ctx.obj or Path(base.store).exists()
        ctx.obj["resolved_settings"] = base.with_profile(read_city_profile(_store(ctx)) if exists else None)
    settings: Settings = ctx.obj["resolved_settings"]
    return settings


def _accounts(ctx: click.Context) -> Any:
    from layers.accounts import AccountStore

    accounts = AccountStore.for_settings(ctx.obj["settings"])  # accounts need no city profile
    ctx.call_on_close(accounts.close)
    return accounts


def _cli_actor() -> str:
    """Who wrote from the command line, for the audit log."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


FIRST_ADMIN_FILE = "first-admin-password.txt"


def _ensure_first_admin(ctx: click.Context) -> None:
    """With auth on and no users yet: create the admin with a one-time password, printed once on
    a terminal, or else written to ``first-admin-password.txt`` (mode 0600) beside the store."""
    from layers.accounts import new_token
    from layers.store.account_tables import AuditLine

    if _settings(ctx).auth == "off":
        return
    accounts = _accounts(ctx)
    if accounts.users():
        return
    password = new_token()[:20]
    accounts.add_user("admin", password, "admin", audit=AuditLine(_cli_actor(), "create", "users", after=["admin"], detail={"role": "admin", "first": True}))
    if sys.stderr.isatty():
        click.secho(f"first admin created — user: admin  one-time password: {password}", fg="yellow", bold=True, err=True)
    else:
        # Not a terminal: this output is a log (systemd, docker, a file). The password goes to a
        # file only its owner can read, never into the log.
        settings = _settings(ctx)
        folder = Path.cwd() if settings.is_postgis else Path(settings.store).resolve().parent
        secret = folder / FIRST_ADMIN_FILE
        descriptor = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(password + "\n")
        click.secho(f"first admin created — user: admin; its one-time password is in {secret} (only you can read it: log in, then delete it)", fg="yellow", bold=True, err=True)
    click.echo("  (change it: onemap user passwd admin; add users: onemap user add NAME --role editor)", err=True)


def _store(ctx: click.Context) -> Store:
    """The store, opened once per command (and closed with it)."""
    if "store" not in ctx.obj:
        store = open_store(ctx.obj["settings"])
        ctx.call_on_close(store.close)
        ctx.obj["store"] = store
    opened: Store = ctx.obj["store"]
    return opened


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--store", "store_location", metavar="PATH|URL", help="The store: a .gpkg path or a postgresql:// URL. Default: $ONEMAP_STORE, else ./var/onemap.gpkg.")
@click.option("-v", "--verbose", is_flag=True, help="Log what is done (to stderr).")
@click.pass_context
def main(ctx: click.Context, store_location: str | None, verbose: bool) -> None:
    """onemap 应急一张图: every hazard source and emergency resource of a city on one map.

    \b
    Start here:
      onemap demo                      sample city, risk zoning, coverage, wall map at :8000/map
      onemap init --boundary 370800_full.json --from gcj02 --name 济宁市   your own city (DataV boundary)
      onemap layers                    what the store holds
      onemap import shelters 避难场所.xlsx --report problems.csv
      onemap export roads roads.gpkg
      onemap serve --port 8000         wall map at /map, OGC API - Features at /collections
      onemap route nearest --lon 116.59 --lat 35.41 --layers rescue_stations
      onemap coverage --out coverage   shelter coverage gaps: GeoPackage, Excel, map
      onemap coverage site --p 10      where 10 new shelters would cover the most people

    The store is a GeoPackage file (default, no server needed) or PostGIS:
      ONEMAP_STORE=postgresql://user@host/db onemap layers
    """
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    ctx.obj = {"settings": Settings(store=store_location) if store_location else Settings()}


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int, *, right: bool = False) -> str:
    gap = " " * max(0, width - _width(text))
    return gap + text if right else text + gap


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
        from layers.field_guide import describe_fields, format_fields

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


@main.command()
@click.option("--seed", type=int, default=None, help="Generator seed (default $ONEMAP_SAMPLE_SEED, 370800). Same seed, same city.")
@click.pass_context
@_fail_cleanly
def sample(ctx: click.Context, seed: int | None) -> None:
    """Write the sample city (a synthetic Jining) to the store.

    Real where facts are known (county towns, Nansi Lake, the hilly east, the published counts:
    248 reservoirs, 135 shelters, 668 rescue stations …), synthetic elsewhere. Upserts by source
    id in one transaction: re-running changes nothing.
    """
    _load_sample(_store(ctx), seed if seed is not None else _settings(ctx).sample_seed)


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
    from layers.importer import ImportOptions, import_file, write_report

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
        write_report(report.problems, report_path)
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


def format_preview(spec: Any, frame: Any) -> str:
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
    """Export LAYER to FILE: .gpkg, .geojson, .shp (UTF-8 with .cpg), .csv or .xlsx (Chinese headers)."""
    from layers.exporter import export_layer

    count = export_layer(_store(ctx), layer, file)
    click.echo(f"{layer} → {file}: {count:,} features")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port.")
@click.pass_context
@_fail_cleanly
def serve(ctx: click.Context, host: str, port: int) -> None:
    """Serve the command wall map at http://HOST:PORT/map and the layers as OGC API - Features
    (GeoJSON) at http://HOST:PORT/collections."""
    import uvicorn

    from api.access_log import redact_share_tokens
    from api.auth import check_serving_address
    from api.main import create_app

    check_serving_address(host, _settings(ctx).auth)
    _ensure_first_admin(ctx)
    click.echo(f"onemap: wall map http://{host}:{port}/map  (collections: http://{host}:{port}/collections)", err=True)
    settings = _settings(ctx)
    redact_share_tokens(logging.getLogger("uvicorn.access"))
    # X-Forwarded-For only from the configured proxies: uvicorn's default trusts 127.0.0.1, so a
    # client on the same host could claim any address and slip past the rate limits.
    proxies = ",".join(settings.trusted_proxies)
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info", proxy_headers=bool(proxies), forwarded_allow_ips=proxies or None)


@main.command()
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port of the wall map (on 127.0.0.1 only).")
@click.option("--serve/--no-serve", "serve_after", default=True, show_default=True, help="Serve the wall map after the analyses (--no-serve: compute, print and stop).")
@click.pass_context
@_fail_cleanly
def demo(ctx: click.Context, port: int, serve_after: bool) -> None:
    """The whole thing on the sample city: load it if the store is empty, print the layer table,
    run risk zoning and shelter coverage, and serve the command wall map at
    http://127.0.0.1:PORT/map (Ctrl-C stops it).

    \b
    The store is ./var/onemap.gpkg unless --store or ONEMAP_STORE says otherwise; the map works
    with no internet (basemap drawn from the store, every asset served by onemap itself).
    """
    from api.main import create_app, warm_up
    from layers.coverage_service import CoverageService
    from layers.risk_service import RiskService
    from layers.routing_service import RoutingService

    settings = _settings(ctx)
    store = _store(ctx)
    if all(info.count == 0 for info in store.list_layers() if not CATALOGUE[info.name].written_by_users):
        _load_sample(store, settings.sample_seed)
        ctx.obj.pop("resolved_settings", None)  # the sample wrote Jining's city profile: use it
        settings = _settings(ctx)
    else:
        click.echo(f"store {settings.store} already holds data: not reloading the sample city", err=True)
    _print_layers(store, as_json=False)
    if not serve_after:
        routing = RoutingService(store, settings)
        warm_up(RiskService(store, settings, routing), CoverageService(store, settings, routing), click.echo)
        return
    store.close()
    _ensure_first_admin(ctx)
    import uvicorn

    url = f"http://127.0.0.1:{port}/map"
    click.echo(f"starting the wall map on {url} …", err=True)
    app = create_app(settings, warm=lambda line: click.echo(line, err=True),
                     on_ready=lambda: click.secho(f"应急一张图 wall map: {url}  (wall screens: {url}?wall=1; Ctrl-C to stop)", fg="green", bold=True))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", proxy_headers=False)


@main.group()
def user() -> None:
    """Accounts: viewer reads, editor also writes (incidents, closures, levels, imports, share
    links), admin also manages users.

    \b
    onemap user add zhang --role editor          asks for the password (or --password-stdin)
    onemap user list
    onemap user token zhang                      an API token for scripts (shown once)
    onemap user tokens zhang                     the tokens by id;  onemap user revoke ID
    onemap user passwd admin                     also ends the user's sessions and tokens
    onemap user disable zhang                    no more log-ins; sessions and tokens end
    """


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(click.prompt("password (at least 10 characters)", hide_input=True, confirmation_prompt=True))


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["viewer", "editor", "admin"]), default="viewer", show_default=True, help="What the user may do.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
@click.pass_context
@_fail_cleanly
def user_add(ctx: click.Context, name: str, role: str, password_stdin: bool) -> None:
    """Create user NAME with a role."""
    from layers.store.account_tables import AuditLine

    created = _accounts(ctx).add_user(name, _read_password(password_stdin), role, audit=AuditLine(_cli_actor(), "create", "users", after=[name.strip()], detail={"role": role}))
    click.echo(f"user {created.username} ({created.role}) created")


@user.command("list")
@click.pass_context
@_fail_cleanly
def user_list(ctx: click.Context) -> None:
    """List the users and their roles."""
    for account in _accounts(ctx).users():
        click.echo(f"{_pad(account.username, 24)} {_pad(account.role, 8)} {account.created_at:%Y-%m-%d %H:%M}{'  (disabled)' if account.disabled else ''}")


@user.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the new password from the first line of standard input.")
@click.pass_context
@_fail_cleanly
def user_passwd(ctx: click.Context, name: str, password_stdin: bool) -> None:
    """Set a new password for NAME. Their sessions end and their API tokens are revoked: log in
    again, and make new tokens with onemap user token NAME."""
    from layers.store.account_tables import AuditLine

    ended = _accounts(ctx).set_password(name, _read_password(password_stdin), audit=AuditLine(_cli_actor(), "passwd", "users", before=[name], after=[name]))
    click.echo(f"password of {name} changed; {ended} sessions and API tokens ended")


@user.command("disable")
@click.argument("name")
@click.pass_context
@_fail_cleanly
def user_disable(ctx: click.Context, name: str) -> None:
    """Disable NAME: no more log-ins; their sessions end and their API tokens are revoked at once."""
    from layers.store.account_tables import AuditLine

    ended = _accounts(ctx).disable_user(name, audit=AuditLine(_cli_actor(), "disable", "users", before=[name], after=[name]))
    click.echo(f"user {name} disabled; {ended} sessions and API tokens ended")


@user.command("token")
@click.argument("name")
@click.option("--label", default="api", show_default=True, help="What the token is for (shown in the audit log).")
@click.pass_context
@_fail_cleanly
def user_token(ctx: click.Context, name: str, label: str) -> None:
    """Create an API token for NAME (send it as 'Authorization: Bearer TOKEN'); shown once."""
    from layers.store.account_tables import AuditLine

    click.echo(_accounts(ctx).new_api_token(name, label, audit=AuditLine(_cli_actor(), "create", "api_tokens", after=[name], detail={"label": label})))


@user.command("tokens")
@click.argument("name")
@click.pass_context
@_fail_cleanly
def user_tokens(ctx: click.Context, name: str) -> None:
    """List NAME's API tokens by id (the tokens themselves are never stored); revoke one with
    onemap user revoke TOKEN_ID."""
    rows = _accounts(ctx).tokens(name)
    if not rows:
        click.echo(f"{name} has no API tokens")
    for row in rows:
        click.echo(f"{row['id']:>6}  {_pad(str(row['label']), 24)} {row['created_at']:%Y-%m-%d %H:%M}  {'revoked' if row['revoked'] else 'active'}")


@user.command("revoke")
@click.argument("token_id", type=int)
@click.pass_context
@_fail_cleanly
def user_revoke(ctx: click.Context, token_id: int) -> None:
    """Revoke the API token TOKEN_ID (from onemap user tokens NAME) at once."""
    from layers.store.account_tables import AuditLine

    owner = _accounts(ctx).revoke_token(token_id, audit=AuditLine(_cli_actor(), "revoke", "api_tokens", before=[str(token_id)], after=[str(token_id)]))
    click.echo(f"API token {token_id} of {owner} revoked")


@main.group()
def route() -> None:
    """Nearest resources by road, and service areas (travel time on the road network).

    \b
    onemap route nearest --lon 116.59 --lat 35.41 --layers rescue_stations,supply_depots -k 5
    onemap route nearest --lon 116.59 --lat 35.41 --closures flood.geojson --map route.html
    onemap route areas --lon 116.59 --lat 35.41 --minutes 5,10,15 --json

    Every answer avoids the closures in force (road_closures, drawn on the wall map or
    imported); --closures adds what-if polygons to them; --ignore-closures gives the open network.
    """


def _routing(ctx: click.Context) -> Any:
    from layers.routing_service import RoutingService

    service = RoutingService(_store(ctx), _settings(ctx))
    click.echo("道路网络 road network: loading …", err=True)
    graph = service.graph()
    click.echo(f"道路网络 road network: {graph.report}", err=True)
    return service


def _closures(service: Any, closures: Path | None, closed_edges: str | None, ignore_closures: bool) -> Any:
    """The stored closures in force (unless ``ignore_closures``) plus the what-if ones given;
    one line on stderr says which."""
    from layers.routing_service import Closures, parse_edge_ids, read_closures

    what_if = Closures(tuple(read_closures(closures)) if closures else (), parse_edge_ids(closed_edges))
    used = service.closures(what_if, stored=not ignore_closures)
    click.echo(f"封闭道路 closures: {used.summary_zh()}", err=True)
    return used


_lon = click.option("--lon", type=click.FloatRange(-180, 180), required=True, help="Longitude, degrees (WGS 84).")
_lat = click.option("--lat", type=click.FloatRange(-90, 90), required=True, help="Latitude, degrees (WGS 84).")
_closures_option = click.option("--closures", type=click.Path(path_type=Path), help="What-if: a GIS file of polygons where roads are cut (flood, collapse), on top of the closures in force.")
_closed_edges_option = click.option("--closed-edges", help="What-if: road source ids that are cut, comma-separated.")
_ignore_closures_option = click.option("--ignore-closures", is_flag=True, help="Leave out the closures in force (road_closures): the open network.")


@route.command("nearest")
@_lon
@_lat
@click.option("--layers", default="rescue_stations,supply_depots,shelters", show_default=True, help="Resource layers, comma-separated.")
@click.option("-k", "k", type=click.IntRange(1, 50), default=5, show_default=True, help="Resources per layer.")
@click.option("--max-minutes", type=click.FloatRange(min=0, min_open=True), help="Leave out resources slower than this.")
@_closures_option
@_closed_edges_option
@_ignore_closures_option
@click.option("--json", "as_json", is_flag=True, help="Print a GeoJSON FeatureCollection (routes as LineStrings).")
@click.option("--map", "map_path", type=click.Path(path_type=Path), help="Also write an offline HTML map of the answer.")
@click.pass_context
@_fail_cleanly
def route_nearest(ctx: click.Context, lon: float, lat: float, layers: str, k: int, max_minutes: float | None, closures: Path | None, closed_edges: str | None, ignore_closures: bool, as_json: bool, map_path: Path | None) -> None:
    """The K resources of each layer that reach the point first by road, with ETA and route.

    Resources travel TO the incident; one-way roads count; cut roads are avoided. A resource
    that cannot get there is listed as unreachable (不可达).
    """
    import shapely

    from api.routing import feature_collection

    service = _routing(ctx)
    cut = _closures(service, closures, closed_edges, ignore_closures)
    result = service.nearest(lon, lat, layers.split(","), k=k, max_minutes=max_minutes, closures=cut)
    if as_json:
        click.echo(json.dumps(feature_collection(result, incident={"lon": lon, "lat": lat}, closures=cut.describe()), ensure_ascii=False))
    else:
        header = ("图层 layer", "名次", "名称 name", "时间 min", "距离 km", "吸附 m")
        rows = [
            (r.layer, str(r.rank), str(r.name), f"{r.travel_time_min:.1f}" if r.reachable else "不可达", f"{r.distance_km:.2f}" if r.reachable else "—", f"{r.snap_m_resource:.0f}" if r.snap_m_resource == r.snap_m_resource else "—")
            for r in result.itertuples(index=False)
        ]
        widths = [max(_width(row[i]) for row in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            click.echo("  ".join(_pad(cell, widths[i], right=i in (1, 3, 4, 5)) for i, cell in enumerate(row)))
        if len(result):
            click.echo(f"事件吸附 incident snapped {result['snap_m_incident'].iloc[0]:.0f} m to the nearest road")
    if map_path is not None:
        from web.route_map import route_map

        bounds = tuple(result.total_bounds) if result.geometry.notna().any() else (lon - 0.02, lat - 0.02, lon + 0.02, lat + 0.02)
        roads = service.store.read("roads", bbox=bounds)
        route_map(result, shapely.Point(lon, lat), closures=cut.polygons, roads=roads).save(str(map_path))
        click.echo(f"map: {map_path}", err=True)


@route.command("areas")
@_lon
@_lat
@click.option("--minutes", default="5,10,15", show_default=True, help="Bands in minutes, comma-separated.")
@_closures_option
@_closed_edges_option
@_ignore_closures_option
@click.option("--json", "as_json", is_flag=True, help="Print a GeoJSON FeatureCollection of the band polygons.")
@click.pass_context
@_fail_cleanly
def route_areas(ctx: click.Context, lon: float, lat: float, minutes: str, closures: Path | None, closed_edges: str | None, ignore_closures: bool, as_json: bool) -> None:
    """Areas reachable by road from the point within each band (isochrones), with the residents
    and resources each contains."""
    from api.routing import feature_collection
    from layers.routing_service import parse_minutes

    bands = parse_minutes(minutes)
    service = _routing(ctx)
    cut = _closures(service, closures, closed_edges, ignore_closures)
    result = service.areas(lon, lat, minutes=bands, closures=cut)
    if as_json:
        click.echo(json.dumps(feature_collection(result, origin={"lon": lon, "lat": lat}, closures=cut.describe()), ensure_ascii=False))
        return
    click.echo("分钟 min  道路 km  居民 residents  救援 stations  物资 depots  避难 shelters")
    for r in result.itertuples(index=False):
        click.echo(f"{r.minutes:7g}  {r.reached_km:7.1f}  {r.residents:14,.0f}  {r.rescue_stations_count:13d}  {r.supply_depots_count:11d}  {r.shelters_count:12d}")


# --- shelter coverage ----------------------------------------------------------------------

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


def _coverage_run(ctx: click.Context, analysis_type: str, mode: str, population_file: Path | None, population_crs: str | None, bar: Any) -> Any:
    from layers.coverage_service import CoverageService, read_population_file
    from layers.routing_service import RoutingService

    settings = _settings(ctx)
    store = _store(ctx)
    population = read_population_file(population_file, settings, crs=population_crs) if population_file else None

    def step(label: str) -> None:
        bar.set_postfix_str(label)
        bar.update(1)

    return CoverageService(store, settings, RoutingService(store, settings)), step, population


def _print_coverage(result: Any) -> None:
    from gis.coverage import MODE_LABELS

    total = result.cells["persons"].sum()
    covered = result.cells.loc[result.cells["covered"], "persons"].sum()
    over = int((result.shelters["load_ratio"] > 1).sum())
    click.echo(f"避难场所覆盖 shelter coverage — type {result.analysis_type}, {MODE_LABELS[result.mode]} ({result.mode}), walking {result.params.walk_kmh:g} km/h")
    click.echo(f"  residents covered   {covered:>14,.0f} of {total:,.0f} ({100 * covered / max(total, 1):.1f} %)")
    click.echo(f"  uncovered residents {total - covered:>14,.0f} in {len(result.gaps):,} gap polygons")
    click.echo(f"  shelters            {len(result.shelters):>14,}  ({over} over capacity: load ratio > 1)")
    click.echo(f"  cannot be placed    {result.assignment.unplaced.sum():>14,.0f} persons (capacity-respecting assignment; mean walk {result.assignment.mean_minutes:.1f} min)")
    for note in result.notes:
        click.echo(f"  note: {note}", err=True)
    if not result.areas.empty:
        worst = result.areas.loc[result.areas["level"] == "乡镇街道"].nlargest(5, "residents_uncovered")
        click.echo("  most uncovered townships 未覆盖人口最多的乡镇:")
        for row in worst.itertuples():
            click.echo(f"    {_pad(str(row.name), 14)} {row.residents_uncovered:>10,.0f} of {row.residents:>10,.0f}  shortfall {row.capacity_shortfall_persons:>10,.0f}")


@main.group(invoke_without_command=True)
@_coverage_options
@click.pass_context
@_fail_cleanly
def coverage(ctx: click.Context, analysis_type: str | None, mode: str | None, out_dir: Path | None, population_file: Path | None, population_crs: str | None) -> None:
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
    \b
    Settings (environment): ONEMAP_WALK_SPEED_KMH (4.5), ONEMAP_SHELTER_REACH_MIN
    ('{"紧急":10,"固定":35,"中心":60}'), ONEMAP_SHELTER_DEMAND_SHARE ('{"紧急":1,"固定":0.3,"中心":0.3}'),
    ONEMAP_AREA_PER_PERSON_M2 (1.5).
    """
    ctx.obj["coverage"] = {"analysis_type": analysis_type, "mode": mode, "out_dir": out_dir, "population_file": population_file, "population_crs": population_crs}
    if ctx.invoked_subcommand is not None:
        return
    from layers.coverage_output import write_outputs
    from web.coverage_map import coverage_map_html

    with tqdm(total=_COVERAGE_STEPS, desc="避难场所覆盖 coverage", unit="step", file=sys.stderr) as bar:
        service, step, population = _coverage_run(ctx, analysis_type or "紧急", mode or "network", population_file, population_crs, bar)
        result = service.result(analysis_type or "紧急", mode or "network", population=population, progress=step)
        step("写出 writing")
        paths = write_outputs(out_dir or Path("coverage"), result, render_map=lambda r, s: coverage_map_html(r, s))
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
    (MILP solved to optimality by HiGHS; the gap is printed), on the map and in the GeoPackage."""
    from layers.coverage_output import write_outputs
    from web.coverage_map import coverage_map_html

    shared = ctx.obj.get("coverage", {})
    analysis_type = analysis_type or shared.get("analysis_type") or "紧急"
    mode = mode or shared.get("mode") or "network"
    out_dir = out_dir or shared.get("out_dir") or Path("coverage")
    population_file = population_file or shared.get("population_file")
    population_crs = population_crs or shared.get("population_crs")
    with tqdm(total=_COVERAGE_STEPS + 1, desc="选址 siting", unit="step", file=sys.stderr) as bar:
        service, step, population = _coverage_run(ctx, analysis_type, mode, population_file, population_crs, bar)
        result = service.result(analysis_type, mode, population=population, progress=step)
        siting = service.site(p, candidates=candidates, capacitated=capacitated, model=model, spacing_m=spacing_m, result=result, progress=step)
        step("写出 writing")
        paths = write_outputs(out_dir, result, siting=siting, render_map=lambda r, s: coverage_map_html(r, s))
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


@main.command()
@click.option("--resolution", "resolution_m", type=click.FloatRange(10, 5000), default=100.0, show_default=True, help="Grid cell size in metres (EPSG:4548); 30 works too.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None, help="YAML with weights (or an AHP matrix), factor parameters and the classification.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("risk"), show_default=True, help="Folder for the outputs.")
@click.option("--straight-line", is_flag=True, help="Capacity from straight-line distance to rescue stations instead of drive time on the roads.")
@click.option("--dem", "dem_path", type=click.Path(dir_okay=False, path_type=Path), default=None, help="A DEM GeoTIFF (any CRS): adds the slope factor.")
@click.pass_context
@_fail_cleanly
def risk(ctx: click.Context, resolution_m: float, config_path: Path | None, out_dir: Path, straight_line: bool, dem_path: Path | None) -> None:
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
    """
    from layers.risk_output import store_level_polygons, write_risk_outputs
    from layers.risk_service import HAZARD_LAYERS, RiskService, read_config, read_dem
    from layers.routing_service import RoutingService
    from web.risk_map import risk_map_html

    config = read_config(config_path)
    dem = read_dem(dem_path) if dem_path else None
    settings = _settings(ctx)
    store = _store(ctx)
    with tqdm(total=4, desc="风险区划 risk", unit="step", file=sys.stderr) as bar:
        def step(label: str) -> None:
            bar.set_postfix_str(label)
            bar.update(1)

        result = RiskService(store, settings, RoutingService(store, settings)).run(resolution_m=resolution_m, config=config, use_roads=not straight_line, dem=dem, progress=step)
        sources = {name: store.read(name) for name in HAZARD_LAYERS}
        admin = store.read("admin_areas")
        townships = admin.loc[admin["level"] == "乡镇街道"]
        step("写出 writing")
        paths = write_risk_outputs(out_dir, result, render_map=lambda r: risk_map_html(r, sources, townships))
        stored = store_level_polygons(store, result)
    counts = np.bincount(result.levels.ravel(), minlength=5)
    cell_km2 = result.grid.resolution_m**2 / 1e6
    click.echo(f"风险区划 risk zoning — {result.grid.width:,} × {result.grid.height:,} cells of {resolution_m:g} m; capacity: {result.metadata()['capacity_label']}")
    for code, name in ((4, "重大"), (3, "较大"), (2, "一般"), (1, "低")):
        residents = float(result.persons[result.levels == code].sum())
        click.echo(f"  {name}  {counts[code] * cell_km2:10,.1f} km²  {residents:12,.0f} residents")
    for note in result.notes:
        click.echo(f"  note: {note}", err=True)
    for path in paths:
        click.echo(f"  wrote {path}")
    click.echo(f"  stored {stored} level polygons in layer risk_zones ({resolution_m:g} m)")


from api import cli_city  # noqa: E402,F401  (registers onemap init and onemap info on main)
