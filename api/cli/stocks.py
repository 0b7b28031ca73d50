"""``onemap stocks``: import a depot stock ledger (库存台账) and list what the depots hold."""

from __future__ import annotations

from pathlib import Path

import click

from api.cli.app import _cli_actor, _fail_cleanly, _pad, _store, _width, main


@main.group()
def stocks() -> None:
    """Depot stocks (储备库存): what each supply depot holds of each relief item. Scenarios send
    the displaced persons' needs from them by road (onemap scenario … shows what is short).

    \b
    Examples:
      onemap stocks import 库存台账.xlsx
      onemap stocks list
      onemap stocks list --depot CK0001
    """


@stocks.command("import")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--merge", is_flag=True, help="Add to and change the stored rows only; default: the ledger is the whole stock of the depots it lists (their items it leaves out are removed).")
@click.option("--profile", "profile_path", type=click.Path(path_type=Path), help="A needs-profile YAML whose items the ledger is matched against (default: the items of the shipped profiles).")
@click.pass_context
@_fail_cleanly
def stocks_import(ctx: click.Context, path: Path, merge: bool, profile_path: Path | None) -> None:
    """Store a stock ledger (CSV or XLSX) in one transaction: all of it or nothing.

    Columns (headers in Chinese or English; a title above the header is skipped): 储备库 or
    储备库编号 (the depot's id or name in supply_depots), 物资 (大米, 饮用水, … or rice,
    drinking_water), 数量 (quantity), 单位 (kg/千克/公斤, l/升, 个/件/顶 …). Each row names the
    file's row when it is wrong.

    \b
    Examples:
      onemap stocks import 库存台账.xlsx
      onemap stocks import 补充台账.csv --merge
    """
    from layers.io.needs_profile import read_needs_profile
    from layers.services.stocks import import_stock_ledger

    profile = read_needs_profile(profile_path) if profile_path is not None else None
    done = import_stock_ledger(_store(ctx), path, profile=profile, replace=not merge, actor=_cli_actor())
    for warning in done.warnings:
        click.secho(f"注意 warning: {warning}", fg="yellow", err=True)
    c = done.counts
    click.echo(f"储备库存 depot stocks: {done.rows} rows read from {path.name}: {c.inserted} new, {c.updated} changed, {c.unchanged} unchanged, {c.deleted} removed")


@stocks.command("list")
@click.option("--depot", "depots", multiple=True, help="Only this depot (source id); repeat for more.")
@click.pass_context
@_fail_cleanly
def stocks_list(ctx: click.Context, depots: tuple[str, ...]) -> None:
    """What the depots hold: depot, item, quantity, unit, when and by whom it was last set.

    \b
    Examples:
      onemap stocks list
      onemap stocks list --depot WZ0001 --depot WZ0002
    """
    from layers.services.stocks import stock_records

    store = _store(ctx)
    rows = stock_records(store.read_depot_stocks(list(depots) or None), store.read("supply_depots"))
    if not rows:
        click.echo("没有库存 no depot stocks stored (onemap stocks import LEDGER)")
        return
    table = [(str(r["depot_id"]), str(r["depot_name"] or ""), str(r["name_zh"]), f"{float(str(r['quantity'])):,.1f}".removesuffix(".0"), str(r["unit"]), str(r["updated_at"] or "")[:16], str(r["updated_by"] or ""))
             for r in rows]
    header = ("储备库 depot", "名称 name", "物资 item", "数量 quantity", "单位 unit", "更新 updated", "更新人 by")
    widths = [max(_width(row[i]) for row in [header, *table]) for i in range(len(header))]
    for row in [header, *table]:
        click.echo("  ".join(_pad(cell, widths[i], right=i == 3) for i, cell in enumerate(row)))
