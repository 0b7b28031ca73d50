"""``onemap brief``: the A4 brief (简报) in Chinese of an incident, a stored scenario or a
township, as PDF with the same tables as XLSX beside it."""

from __future__ import annotations

import time
from pathlib import Path

import click

from api.cli.app import _cli_actor, _fail_cleanly, _settings, _store, main


@main.command("brief")
@click.option("--incident", "incident_id", help="An incident's source id: its brief, with its newest scenario (onemap scenario … --incident ID).")
@click.option("--scenario", "scenario_id", help="A stored scenario's id (onemap scenario list): its brief, without an incident.")
@click.option("--township", "adcode", help="A township's adcode (乡镇街道): a planning brief of its risk, shelter coverage and gaps, resources and hazards.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), required=True, help="The PDF to write; the XLSX of its tables is written beside it (same name, .xlsx).")
@click.option("--author", help="The author line (default: the user running onemap).")
@click.pass_context
@_fail_cleanly
def brief(ctx: click.Context, incident_id: str | None, scenario_id: str | None, adcode: str | None, out_path: Path, author: str | None) -> None:
    """Write an A4 brief in Chinese: title, time and author; a map drawn by onemap itself from the
    store (the footprint, the incident, routes and shelters, with legend, scale bar, north arrow
    and a 审图号 line); the impact per township; the needs against the depot stocks with the
    shortfalls; the nearest rescue stations and depots with their ETAs by road; the closures in
    force. Give exactly one of --incident, --scenario, --township.

    \b
    Examples:
      onemap brief --incident INC20261203221500-1a2b3c --out brief.pdf
      onemap brief --scenario SC20261203221500-1a2b3c --out brief.pdf
      onemap brief --township 370811001 --out 乡镇简报.pdf
    """
    from layers.services.brief_facts import incident_facts, scenario_facts, township_facts
    from web.basemap import prepare_basemap
    from web.brief.compose import compose_brief
    from web.brief.pdf import render_brief_pdf
    from web.brief.workbook import render_brief_xlsx

    given = [name for name, value in (("--incident", incident_id), ("--scenario", scenario_id), ("--township", adcode)) if value]
    if len(given) != 1:
        raise click.UsageError("give exactly one of --incident ID, --scenario ID, --township ADCODE" + (f" (got {', '.join(given)})" if given else ""))
    if out_path.suffix.lower() != ".pdf":
        raise click.BadParameter(f"{out_path}: the brief is a PDF; name it …pdf", param_hint="--out")
    started = time.perf_counter()
    store, settings = _store(ctx), _settings(ctx)
    who = author or _cli_actor()
    if incident_id:
        facts = incident_facts(store, settings, incident_id, author=who)
    elif scenario_id:
        facts = scenario_facts(store, settings, scenario_id, author=who)
    else:
        facts = township_facts(store, settings, str(adcode), author=who, progress=lambda step: click.echo(step, err=True))
    box = facts.extent
    basemap = prepare_basemap(*(store.read(layer, bbox=box) for layer in ("admin_areas", "water_bodies", "roads")))
    document = compose_brief(facts, basemap)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    xlsx_path = out_path.with_suffix(".xlsx")
    out_path.write_bytes(render_brief_pdf(document))
    xlsx_path.write_bytes(render_brief_xlsx(document))
    click.echo(f"简报 brief: {out_path} (+ {xlsx_path.name}), {time.perf_counter() - started:.1f} s")
