"""The storm of ``onemap demo --storm``: the sample rainstorm played into a running app through its
own ingest, the rules judged after each step at the storm's clock (the app's own evaluation loop
is paused meanwhile, or it would find every gauge silent at the wall clock), the risk picture
following, and the first alert acknowledged by the duty officer — so a newcomer watching the wall
sees the whole chain move. The storm's clock ends at the wall clock's now, however fast it plays.
Each step is told to ``report`` in one line (Beijing time, alerts by colour, reservoirs over
汛限水位, the risk zoning's revision)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from gis.grades import WARNING_LEVELS
from layers.sample.storm import STEP_MIN, storm_steps
from layers.services.ingest import IngestService
from layers.services.operations import BEIJING
from layers.services.risk import RiskService
from layers.services.warning import EvaluationLoop, WarningService

DUTY_OFFICER = "值班员 (演示) demo duty officer"
"""Who acknowledges an alert in the demo."""


def play_storm(ingest: IngestService, warning: WarningService, risk: RiskService, loop: EvaluationLoop, *, minutes: int, speed: float, epsg: int,
               report: Callable[[str], None], stop: threading.Event, seed: int = 7) -> None:
    """``_play`` in a thread of its own with ``loop`` paused: a failure is reported in one line, and
    none once the app is stopping (it closes the store under the storm)."""
    loop.paused.set()
    try:
        _play(ingest, warning, risk, minutes=minutes, speed=speed, epsg=epsg, report=report, stop=stop, seed=seed)
    except Exception as error:  # the thread's last word: the server keeps serving whatever happened here
        if not stop.is_set():
            report(f"演示暴雨 demo storm stopped: {type(error).__name__}: {error}")
    finally:
        loop.paused.clear()
        loop.poke()


def _play(ingest: IngestService, warning: WarningService, risk: RiskService, *, minutes: int, speed: float, epsg: int,
               report: Callable[[str], None], stop: threading.Event, seed: int = 7) -> None:
    """Play a ``minutes``-long storm at ``speed`` simulated minutes per real minute (0: no waiting);
    the storm's clock starts so that it ends at the wall clock's now (never in the future). Stops
    early when ``stop`` is set."""
    stations = ingest.store.read("monitoring_stations")
    if stations.empty:
        report("演示暴雨 demo storm: the store has no monitoring stations (onemap sample writes them): skipped")
        return
    real_minutes = minutes / speed if speed > 0 else 0.0
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=real_minutes - minutes)
    acknowledged = False
    report(f"演示暴雨 demo storm: {minutes} min of rain over {int((stations['kind'] == '雨量').sum())} rain gauges, played at ×{speed:g}")
    for moment, records in storm_steps(stations, start=start, minutes=minutes, epsg=epsg, seed=seed):
        if stop.is_set():
            return
        done = ingest.ingest(records, source="demo storm")
        evaluation = warning.evaluate(moment, actor="demo storm")
        risk.follow(evaluation)
        alerts = warning.alerts()
        active = alerts[alerts["status"] != "已解除"] if not alerts.empty else alerts
        by_colour = " ".join(f"{level}{int((active['level'] == level).sum())}" for level in WARNING_LEVELS if not active.empty and (active["level"] == level).any()) or "none"
        above = len(ingest.store.read("reservoirs", filters={"above_flood_limit": True}))
        if not acknowledged and not active.empty and (moment - start) >= timedelta(minutes=minutes / 2):
            first = active.sort_values("raised_at").iloc[0]
            if first["status"] == "已发布":
                warning.acknowledge(str(first["source_id"]), actor=DUTY_OFFICER)
                report(f"  {DUTY_OFFICER} acknowledged {first['headline']}")
            acknowledged = True
        report(f"{moment.astimezone(BEIJING):%H:%M} stored {done.accepted} readings; alerts {by_colour}; reservoirs over 汛限水位 {above}; risk zoning r{risk.revision}")
        if speed > 0 and stop.wait(STEP_MIN * 60.0 / speed):
            return
    report("演示暴雨 demo storm: over (the alerts stay on the wall until resolved)")
