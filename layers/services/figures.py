"""The strip of key figures along the wall: active alerts by colour, open incidents, reservoirs
above 汛限水位, residents in 重大/较大 risk, shelter coverage, stations offline and dead letters.
Analyses' figures come from results already computed (never computed here); until then, null."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from gis.grades import WARNING_LEVELS
from layers.services.coverage import CoverageService
from layers.services.risk import RiskService
from layers.store.base import Store


def key_figures(store: Store, *, risk: RiskService, coverage: CoverageService, now: datetime | None = None) -> dict[str, Any]:
    """The figures, each a number, or null where its analysis has not been computed yet."""
    moment = now or datetime.now(UTC)
    alerts = store.read("alerts")
    alerts = alerts[alerts["status"] != "已解除"] if not alerts.empty else alerts
    incidents = store.read("incidents")
    reservoirs = store.read("reservoirs", filters={"above_flood_limit": True})
    stations = store.read("monitoring_stations")
    zoning = risk.cached()
    covered = coverage.cached()
    grave = None if zoning is None else sum(zoning.level_totals[level]["residents"] for level in ("重大", "较大"))
    share = None if covered is None else 100.0 * covered.totals["residents_covered"] / max(covered.totals["residents"], 1.0)
    return {
        "alerts": {level: int((alerts["level"] == level).sum()) if not alerts.empty else 0 for level in WARNING_LEVELS},
        "open_incidents": int((incidents["status"] != "已结束").sum()) if not incidents.empty else 0,
        "reservoirs_above_flood_limit": len(reservoirs),
        "residents_in_grave_risk": grave,
        "shelter_coverage_pct": share,
        "stations": len(stations),
        "stations_offline": int((stations["status"] == "离线").sum()) if not stations.empty else 0,
        "dead_letters_24h": store.dead_letter_count(since=moment - timedelta(hours=24)),
        "time": moment.isoformat(timespec="seconds"),
    }
