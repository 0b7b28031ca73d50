"""``onemap alerts``, ``observe import`` and ``ingest mqtt``: gauge readings in, and the warnings the rules raise."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from api.cli.app import _cli_actor, _fail_cleanly, _settings, _store, main

if TYPE_CHECKING:
    from layers.services.ingest import IngestService

LEVELS = ("蓝", "黄", "橙", "红")
STATUSES = ("已发布", "已确认", "已解除")


@main.command()
@click.option("--level", type=click.Choice(LEVELS), help="Only this warning colour (蓝 Ⅳ < 黄 Ⅲ < 橙 Ⅱ < 红 Ⅰ).")
@click.option("--status", type=click.Choice(STATUSES), help="Only this status.")
@click.option("--evaluate", is_flag=True, help="First judge every station against the warning rules now (ONEMAP_WARNING_RULES).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list: id, level, status, station, rule, raised_at (UTC) and the rest.")
@click.pass_context
@_fail_cleanly
def alerts(ctx: click.Context, level: str | None, status: str | None, evaluate: bool, as_json: bool) -> None:
    """The alerts, gravest and newest first: colour, status, station and headline.

    \b
    Examples:
      onemap alerts
      onemap alerts --level 红 --status 已发布
      onemap alerts --evaluate --json
    """
    from api.alerts import alert_json
    from layers.io.warning_rules import read_warning_rules
    from layers.services.warning import WarningService

    settings = _settings(ctx)
    service = WarningService(_store(ctx), settings, read_warning_rules(settings.warning_rules))
    if evaluate:
        done = service.evaluate(actor=_cli_actor())
        click.echo(f"预警研判 evaluated {done.stations} stations, {done.observations} observations: raised {len(done.raised)}, upgraded {len(done.upgraded)}, clearable {len(done.clearable)}", err=True)
    found = service.alerts(level=level, status=status)
    rows = alert_json(found) if not found.empty else []
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    if not rows:
        click.echo("no alerts 无预警")
        return
    from layers.services.operations import BEIJING

    for row in rows:
        raised = datetime.fromisoformat(str(row["raised_at"])).astimezone(BEIJING)
        click.echo(f"{row['level']}  {row['status']}  {raised:%m-%d %H:%M}  {row['station']!s:<12} {row['headline'] or ''}")


def _ingest(ctx: click.Context) -> IngestService:
    from layers.services.ingest import IngestService

    return IngestService(_store(ctx))


@main.group()
def observe() -> None:
    """Gauge readings from files.

    \b
    Examples:
      onemap observe import 水位.csv
    """


@observe.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
@_fail_cleanly
def observe_import(ctx: click.Context, file: Path) -> None:
    """Import the readings in FILE: a CSV (UTF-8 or GB18030) or XLSX export of a monitoring
    platform, with columns 站码, 时间 (Beijing time unless it carries an offset), 水位/雨量 (a unit in
    brackets, or a 单位 column). Good rows are stored by station and time (a repeat replaces);
    each bad row is kept as a dead letter with its row number and reason.

    \b
    Examples:
      onemap observe import 水位.csv
      onemap observe import 雨量_20260720.xlsx
    """
    from layers.io.observation_files import read_observation_file

    done = _ingest(ctx).ingest(read_observation_file(file), source=f"file {file.name}")
    click.echo(f"{file.name}: stored {done.accepted:,} readings, {done.rejected:,} dead letters")
    for reason in done.reasons:
        click.echo(f"  {reason}", err=True)
    if done.rejected and not done.accepted:
        sys.exit(2)


@main.group()
def ingest() -> None:
    """Gauge readings from a monitoring platform's MQTT broker.

    \b
    Examples:
      onemap ingest mqtt --broker mqtt://127.0.0.1:1883 --topic 'onemap/+/obs'
    """


@ingest.command("mqtt")
@click.option("--broker", required=True, help="mqtt://HOST:PORT of the broker.")
@click.option("--topic", default="onemap/+/obs", show_default=True, help="Topic filter; its + level is the station when a payload does not say.")
@click.option("--client-id", default="onemap-ingest", show_default=True, help="A fixed id: the broker keeps QoS 1 messages for it while onemap is away.")
@click.pass_context
@_fail_cleanly
def ingest_mqtt(ctx: click.Context, broker: str, topic: str, client_id: str) -> None:
    """Subscribe to BROKER and store every reading (QoS 1, a persistent session, acknowledged only
    once stored; reconnects with backoff; Ctrl-C stops). Bad payloads become dead letters.

    \b
    Examples:
      onemap ingest mqtt --broker mqtt://127.0.0.1:1883
      onemap ingest mqtt --broker mqtt://10.1.2.3:1883 --topic 'sw/+/data' --client-id jining-onemap
    """
    from layers.io.mqtt_ingest import run_mqtt_ingest
    from layers.services.ingest import LIVE_MAX_AGE_DAYS

    service = _ingest(ctx)

    def handle(records: list[dict[str, Any]], source: str) -> None:
        done = service.ingest(records, source=source, max_age_days=LIVE_MAX_AGE_DAYS)
        if done.rejected:
            click.echo(f"{source}: {done.rejected} dead letters ({'; '.join(done.reasons[:3])})", err=True)

    try:
        run_mqtt_ingest(broker, topic, handle, client_id=client_id, on_status=lambda line: click.echo(f"mqtt: {line}", err=True))
    except KeyboardInterrupt:
        click.echo("stopped", err=True)


@main.group()
def simulate() -> None:
    """Play synthetic events through the real paths, to watch the chain work.

    \b
    Examples:
      onemap simulate rainstorm --speed 0
    """


@simulate.command("rainstorm")
@click.option("--minutes", type=click.IntRange(5, 24 * 60), default=90, show_default=True, help="How long the storm lasts (simulated minutes; a report every 5).")
@click.option("--speed", type=click.FloatRange(0), default=60.0, show_default=True, help="Simulated minutes per real minute; 0: no waiting (tests).")
@click.option("--url", help="Send the readings to a running server's POST /observations (with --token) instead of straight to the store.")
@click.option("--token", envvar="ONEMAP_TOKEN", help="A sensor or editor account's API token for --url (or $ONEMAP_TOKEN).")
@click.option("--broker", help="Publish the readings to this MQTT broker (mqtt://HOST:PORT, topic onemap/<station>/obs) instead.")
@click.option("--seed", type=int, default=7, show_default=True, help="The storm's seed: same seed, same storm.")
@click.pass_context
@_fail_cleanly
def simulate_rainstorm(ctx: click.Context, minutes: int, speed: float, url: str | None, token: str | None, broker: str | None, seed: int) -> None:
    """A rain cell crossing the sample city west to east: rain gauges report every 5 minutes,
    water gauges rise with the rain near them. Straight to the store (and the rules run after
    each step), to a server (--url) or through an MQTT broker (--broker), whose own rules run.

    \b
    Examples:
      onemap simulate rainstorm --speed 0
      onemap simulate rainstorm --url http://127.0.0.1:8000 --token $TOKEN
      onemap simulate rainstorm --broker mqtt://127.0.0.1:1883 --minutes 120
    """
    import time
    from datetime import UTC, timedelta

    from layers.sample.storm import STEP_MIN, storm_steps
    from layers.services.operations import BEIJING

    store = _store(ctx)
    stations = store.read("monitoring_stations")
    if stations.empty:
        raise click.UsageError("the store has no monitoring_stations: run onemap sample first (it writes the sample gauges)")
    send = _sender(ctx, url, token, broker)
    # The storm ends now: readings are never in the future, however fast it is played.
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=minutes)
    for moment, records in storm_steps(stations, start=start, minutes=minutes, epsg=_settings(ctx).work_epsg, seed=seed):
        summary = send(records)
        rain = max((float(r["value"]) for r in records if r["unit"] == "mm"), default=0.0)  # type: ignore[arg-type]
        click.echo(f"{moment.astimezone(BEIJING):%H:%M} {len(records)} readings, heaviest {rain:.1f} mm/5 min{summary}", err=True)
        if speed > 0:
            time.sleep(STEP_MIN * 60.0 / speed)


def _sender(ctx: click.Context, url: str | None, token: str | None, broker: str | None) -> Callable[[list[dict[str, Any]]], str]:
    """How each step's readings go out, returning a few words on what happened."""
    if url:
        import httpx

        if not token:
            raise click.UsageError("--url needs --token (onemap user add gauges --role sensor; onemap user token gauges)")

        def post(records: list[dict[str, Any]]) -> str:
            response = httpx.post(f"{url.rstrip('/')}/observations", json=records, headers={"Authorization": f"Bearer {token}"}, timeout=30)
            if response.status_code != 200:
                raise click.ClickException(f"POST /observations answered {response.status_code}: {response.text[:300]}")
            return f"; stored {response.json()['accepted']}"

        return post
    if broker:
        import paho.mqtt.client as mqtt

        from layers.io.mqtt_ingest import parse_broker_url

        host, port = parse_broker_url(broker)
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="onemap-simulate")
        client.connect(host, port)
        client.loop_start()

        def publish(records: list[dict[str, Any]]) -> str:
            for record in records:
                client.publish(f"onemap/{record['station']}/obs", json.dumps(record, ensure_ascii=False), qos=1).wait_for_publish(timeout=10)
            return "; published"

        return publish
    from layers.io.warning_rules import read_warning_rules
    from layers.services.ingest import IngestService
    from layers.services.warning import WarningService

    store, settings = _store(ctx), _settings(ctx)
    warning = WarningService(store, settings, read_warning_rules(settings.warning_rules))
    ingest = IngestService(store)

    def direct(records: list[dict[str, Any]]) -> str:
        done = ingest.ingest(records, source="simulate rainstorm")
        moment = max(datetime.fromisoformat(str(r["time"])) for r in records)
        judged = warning.evaluate(moment, actor="simulate rainstorm")
        return f"; stored {done.accepted}; alerts raised {len(judged.raised)}, upgraded {len(judged.upgraded)}"

    return direct
