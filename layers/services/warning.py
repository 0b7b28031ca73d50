"""The warning engine over a store: the stations' recent observations judged against the rules,
alerts raised, upgraded or marked clearable in the ``alerts`` layer, and their life
(已发布 → 已确认 → 已解除) by people — every step in one transaction with its audit line.

The hysteresis state lives in the alerts themselves: per station and rule family, the latest
alert's level is the episode's unless it is marked ``clearable`` (the value went back below its
thresholds by the deadband). So nothing but the alerts layer needs keeping, in either store.
Times: observations and alerts are UTC in the store; headlines show Beijing time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from gis.grades import WARNING_LEVELS, warning_rank
from gis.warning.hysteresis import decide
from gis.warning.judge import (
    Judgement,
    judge_rainfall,
    judge_rise,
    judge_stale,
    judge_water_level,
    latest,
    rain_accumulations,
)
from gis.warning.rules import WATER_THRESHOLD_FIELDS, RuleSet
from layers.accounts.tables import AuditLine
from layers.catalogue import SOURCE_ID
from layers.errors import InputError
from layers.io.cap import CapArea, CapMessage
from layers.services.operations import BEIJING, new_source_id
from layers.settings import Settings
from layers.store.base import Store

logger = logging.getLogger(__name__)

ENGINE = "预警引擎 warning engine"
"""The actor of the engine's own audit lines."""

UNITS = {"暴雨": "mm", "水位": "m", "涨率": "m", "离线": "min"}
EVENTS = {"暴雨": "暴雨", "水位": "水位超警", "涨率": "水位陡涨", "离线": "监测站点离线"}
"""The CAP event of each rule family."""
INSTRUCTIONS = {
    "蓝": "注意防范，关注后续预警信息。",
    "黄": "加强巡查，做好转移准备。",
    "橙": "危险区域人员立即转移，停止户外作业。",
    "红": "立即组织危险区域人员转移避险，启动应急响应。",
}
"""What a CAP message tells people to do, by warning colour (editable wording)."""


@dataclass(frozen=True)
class Evaluation:
    """What one evaluation did, at ``at`` (UTC): alert ids raised, upgraded and marked clearable."""

    at: datetime
    stations: int
    observations: int
    raised: list[str] = field(default_factory=list)
    upgraded: list[str] = field(default_factory=list)
    clearable: list[str] = field(default_factory=list)
    rain_warnings: dict[str, int] = field(default_factory=dict)
    """Rain gauges whose accumulations are in a rainstorm warning now: id → rank (0 蓝 … 3 红)."""
    reservoirs_updated: list[str] = field(default_factory=list)
    """Reservoirs whose ``current_level_m`` was set from their gauge's latest level."""


def _utc(moment: datetime | None) -> datetime:
    """``moment`` in UTC; for none, now rounded *up* to a whole second: a reading stamped within
    this second (a gauge posting "now") is judged at once, not at the next evaluation."""
    if moment is None:
        now = datetime.now(UTC)
        return now.replace(microsecond=0) + timedelta(seconds=1 if now.microsecond else 0)
    if moment.tzinfo is None:
        raise InputError("the evaluation time must carry its time zone")
    return moment.astimezone(UTC)


def _seconds(times: pd.Series) -> NDArray[np.float64]:
    """tz-aware datetimes → seconds since the epoch (NaN for missing)."""
    stamps = pd.to_datetime(times, utc=True)
    seconds = (stamps - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)  # whatever the unit (ns, ms …)
    return np.asarray(seconds, dtype=np.float64)


class WarningService:
    """Rules judged over one store's stations and observations; alerts kept in its alerts layer."""

    def __init__(self, store: Store, settings: Settings, rules: RuleSet) -> None:
        self.store = store
        self.settings = settings
        self.rules = rules
        self._lock = threading.Lock()  # one evaluation at a time: two would raise the same alert twice

    # --- judging -------------------------------------------------------------------------------

    def _lookback_h(self) -> float:
        windows = [*self.rules.windows_h, self.rules.rise.window_h if self.rules.rise else 0.0]
        stale_h = self.rules.stale.minutes / 60.0 if self.rules.stale else 0.0
        return max([*windows, stale_h, 1.0])

    def _judgements(self, stations: gpd.GeoDataFrame, observations: pd.DataFrame, at_s: float) -> tuple[dict[str, Judgement], NDArray[np.float64]]:
        """Each rule family's judgement of every station (rows in ``stations`` order), and each
        water-level station's latest level (m; NaN: none in the lookback, or a rain gauge)."""
        n = len(stations)
        position = pd.Series(np.arange(n), index=stations[SOURCE_ID].to_numpy())
        index = position.reindex(observations["station_id"]).to_numpy()
        known = ~np.isnan(index.astype(float))
        station = index[known].astype(np.int64)
        time_s = _seconds(observations["time"])[known]
        value = observations["value"].to_numpy(dtype=float)[known]
        rain_station = (stations["kind"] == "雨量").to_numpy()
        is_rain = rain_station[station]
        none = Judgement(np.full(n, -1, np.int8), np.ones(n, bool), np.full(n, np.nan), np.full(n, np.nan))
        rules, judged = self.rules, {}
        totals = rain_accumulations(station[is_rain], time_s[is_rain], value[is_rain], at_s=at_s, windows_h=rules.windows_h, stations=n)
        judged["暴雨"] = _only(judge_rainfall(totals, rules.windows_h, rules.rainfall, deadband_mm=rules.rain_deadband_mm), rain_station, none)
        levels, _ = latest(station[~is_rain], time_s[~is_rain], value[~is_rain], stations=n, at_s=at_s)
        thresholds = {name: pd.to_numeric(stations[name], errors="coerce").to_numpy(dtype=float) for name in WATER_THRESHOLD_FIELDS}
        judged["水位"] = _only(judge_water_level(levels, thresholds, rules.water_level, deadband_m=rules.level_deadband_m), ~rain_station, none)
        if rules.rise is not None:
            judged["涨率"] = _only(judge_rise(station[~is_rain], time_s[~is_rain], value[~is_rain], rules.rise, stations=n, at_s=at_s, deadband_m=rules.level_deadband_m), ~rain_station, none)
        if rules.stale is not None:
            _, heard = latest(station, time_s, value, stations=n, at_s=at_s)
            seen = _seconds(stations["last_seen_at"]) if "last_seen_at" in stations else np.full(n, np.nan)
            judged["离线"] = judge_stale(np.fmax(heard, seen), rules.stale, at_s=at_s)
        return judged, np.where(rain_station, np.nan, levels)

    def evaluate(self, at: datetime | None = None, *, actor: str = ENGINE) -> Evaluation:
        """Judge every station at ``at`` (default now) and write what the rules decide: new alerts,
        upgrades (a graver level, back to 已发布 for someone to acknowledge), and alerts whose value
        is back to normal marked clearable. One transaction, one audit line."""
        with self._lock:
            return self._evaluate(_utc(at), actor)

    def _evaluate(self, moment: datetime, actor: str) -> Evaluation:
        stations = self.store.read("monitoring_stations")
        if stations.empty:
            return Evaluation(moment, 0, 0)
        observations = self.store.read_observations(None, moment - timedelta(hours=self._lookback_h()), moment)
        stations = stations.reset_index(drop=True)
        judged, levels = self._judgements(stations, observations, moment.timestamp())
        alerts = self.store.read("alerts")
        latest_alerts = alerts.sort_values("raised_at").groupby(["station_id", "rule"]).tail(1).set_index(["station_id", "rule"]) if not alerts.empty else alerts
        rain = judged["暴雨"].rank
        result = Evaluation(moment, len(stations), len(observations), rain_warnings={str(stations[SOURCE_ID].iloc[i]): int(rain[i]) for i in np.flatnonzero(rain >= 0)})
        changed: list[dict[str, Any]] = []
        geometries: list[Any] = []
        ids = stations[SOURCE_ID].to_numpy()
        for family, judgement in judged.items():
            previous = self._previous(latest_alerts, family, ids)
            known = previous["level"].notna().to_numpy()
            marked = previous["clearable"].eq(True).to_numpy()  # NaN (no alert yet) is not marked
            ranks = np.array([warning_rank(level) if isinstance(level, str) else -1 for level in previous["level"]], np.int8)
            episode = np.where(known & ~marked, ranks, -1).astype(np.int8)
            open_alert = known & (previous["status"] != "已解除").to_numpy()
            decided = decide(episode, open_alert, judgement)
            # Marked clearable once per episode, open or resolved alike (episode ≥ 0: not marked yet);
            # an alert already marked is not written again at every evaluation.
            for i in np.flatnonzero(decided.raise_ | decided.upgrade | (judgement.rearmed & (episode >= 0))):
                row = self._alert_row(family, stations.iloc[i], judgement, int(i), moment, previous.iloc[i] if known[i] else None, decided.raise_[i], decided.upgrade[i])
                changed.append(row)
                geometries.append(stations.geometry.iloc[i])
                (result.raised if decided.raise_[i] else result.upgraded if decided.upgrade[i] else result.clearable).append(row[SOURCE_ID])
        if changed:
            frame = gpd.GeoDataFrame(pd.DataFrame(changed), geometry=geometries, crs=4326)
            self.store.upsert_many({"alerts": frame}, audit=AuditLine(actor, "evaluate", "alerts", after=[r[SOURCE_ID] for r in changed],
                                                                      detail={"at": moment.isoformat(), "raised": len(result.raised), "upgraded": len(result.upgraded), "clearable": len(result.clearable)}))
        result.reservoirs_updated.extend(self._follow_levels(stations, levels, actor))
        return result

    def _follow_levels(self, stations: gpd.GeoDataFrame, levels: NDArray[np.float64], actor: str) -> list[str]:
        """Each reservoir with a water-level gauge takes the gauge's latest level as its
        ``current_level_m`` (and ``above_flood_limit`` from it) when they differ by a centimetre
        or more; one transaction, one audit line. Returns the reservoirs written."""
        if "reservoir_id" not in stations:
            return []
        linked = pd.DataFrame({"reservoir": stations["reservoir_id"], "level": levels}).dropna()
        if linked.empty:
            return []
        observed = linked.groupby("reservoir")["level"].max()  # several gauges at one dam: the highest reading
        reservoirs = self.store.read("reservoirs")
        reservoirs = reservoirs[reservoirs[SOURCE_ID].isin(observed.index)] if not reservoirs.empty else reservoirs
        if reservoirs.empty:
            return []
        level = observed.reindex(reservoirs[SOURCE_ID]).to_numpy(dtype=float)
        stored = pd.to_numeric(reservoirs["current_level_m"], errors="coerce").to_numpy(dtype=float)
        moved = ~(np.abs(level - stored) < 0.01)
        if not moved.any():
            return []
        update = reservoirs.loc[moved].copy()
        update["current_level_m"] = level[moved]
        limit = pd.to_numeric(update["flood_limit_level_m"], errors="coerce").to_numpy(dtype=float)
        update["above_flood_limit"] = [None if np.isnan(b) else bool(a > b) for a, b in zip(level[moved], limit, strict=True)]
        ids = [str(i) for i in update[SOURCE_ID]]
        self.store.upsert_many({"reservoirs": update}, audit=AuditLine(actor, "update", "reservoirs", before=ids, after=ids,
                                                                     detail={"current_level_m": dict(zip(ids, level[moved].round(3).tolist(), strict=True)), "from": "monitoring_stations"}))
        return ids

    @staticmethod
    def _previous(latest_alerts: pd.DataFrame, family: str, ids: NDArray[np.object_]) -> pd.DataFrame:
        """Each station's latest alert of ``family`` (rows in ``ids`` order; all NaN where none),
        aligned at once rather than looked up station by station."""
        columns = ["level", "clearable", "status"]
        if latest_alerts.empty:
            return pd.DataFrame({name: [np.nan] * len(ids) for name in columns}, index=pd.Index(ids))
        of_family = latest_alerts[latest_alerts.index.get_level_values("rule") == family].droplevel("rule")
        return of_family.reindex(pd.Index(ids))

    def _alert_row(self, family: str, station: pd.Series, judged: Judgement, i: int, at: datetime, previous: pd.Series | None, raised: bool, upgraded: bool) -> dict[str, Any]:
        """The alert row to write: a new one, an upgrade of ``previous``, or ``previous`` marked clearable."""
        if raised or upgraded:
            level = WARNING_LEVELS[int(judged.rank[i])]
            value, threshold = float(judged.value[i]), float(judged.threshold[i])
            headline = f"{level}色预警：{station['name'] or station[SOURCE_ID]} {_what(family, value, threshold)}（{at.astimezone(BEIJING):%m-%d %H:%M}）"
            base: dict[str, Any] = {} if raised or previous is None else {k: previous[k] for k in previous.index if k != "geometry"}
            return {
                **base,
                SOURCE_ID: new_source_id("ALT") if raised else base[SOURCE_ID],
                "station_id": station[SOURCE_ID], "rule": family, "level": level, "status": "已发布", "headline": headline,
                "value": value, "threshold": threshold, "unit": UNITS[family], "raised_at": base.get("raised_at", at), "changed_at": at,
                "revision": int(base.get("revision") or 0) + 1, "clearable": False,
                "previous_changed_at": base.get("changed_at"),
            }
        assert previous is not None
        # Not a new revision: changed_at (its CAP message's sent) stays as it was.
        return {**{k: previous[k] for k in previous.index if k != "geometry"}, "station_id": station[SOURCE_ID], "rule": family, "clearable": True}

    # --- reading and the life of an alert --------------------------------------------------------

    def station_series(self, station_id: str, *, hours: float = 24.0, until: datetime | None = None) -> tuple[pd.Series, pd.DataFrame]:
        """A station's record and its readings of the last ``hours`` (time UTC, value in its unit),
        for the chart in its popup; a NotFoundError for an unknown station."""
        station = self.store.get("monitoring_stations", station_id).iloc[0]
        end = _utc(until)
        return station, self.store.read_observations([station_id], end - timedelta(hours=hours), end)

    def alerts(self, *, level: str | None = None, status: str | None = None) -> gpd.GeoDataFrame:
        """Alerts, gravest and newest first; ``level`` (蓝/黄/橙/红) and ``status`` filter."""
        filters: dict[str, Any] = {}
        if level is not None:
            warning_rank(level)
            filters["level"] = level
        if status is not None:
            filters["status"] = status
        found = self.store.read("alerts", filters=filters or None)
        if found.empty:
            return found
        found = found.assign(_rank=found["level"].map(warning_rank))
        return found.sort_values(["_rank", "raised_at"], ascending=[False, False]).drop(columns="_rank").reset_index(drop=True)

    def _step(self, alert_id: str, *, to: str, actor: str, if_match: str | None, stamp: Callable[[dict[str, Any], datetime], None]) -> gpd.GeoDataFrame:
        order = ("已发布", "已确认", "已解除")

        def change(found: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
            row = found.iloc[0]
            if order.index(row["status"]) >= order.index(to):
                raise RepeatedStep(f"alert {alert_id} is {row['status']} already; it cannot become {to}")
            moment = _utc(None)  # rounded as an evaluation rounds: a step never precedes the alert it acts on
            values = {k: row[k] for k in found.columns if k != "geometry"}
            stamp(values, moment)
            values.update(status=to, changed_at=moment, previous_changed_at=values.get("changed_at"), revision=int(values.get("revision") or 0) + 1)
            return gpd.GeoDataFrame(pd.DataFrame([values]), geometry=[found.geometry.iloc[0]], crs=4326)

        with self._lock:  # an evaluation rewriting this alert meanwhile would undo the step
            return self.store.edit("alerts", alert_id, change, if_match=if_match, audit=AuditLine(actor, "acknowledge" if to == "已确认" else "resolve", "alerts", before=[alert_id], after=[alert_id]))

    def cap_message(self, alert_id: str, *, sender: str, web: str | None = None) -> CapMessage:
        """The alert's current CAP message: Alert at revision 1, Cancel once resolved, else Update;
        the area is the townships (乡镇街道) round the station, with their and their counties'
        adcodes, simplified to about 100 m for the polygon."""
        return self.cap_messages(self.store.get("alerts", alert_id), sender=sender, web=web)[0]

    def cap_messages(self, alerts: gpd.GeoDataFrame, *, sender: str, web: str | None = None) -> list[CapMessage]:
        """The current CAP message of each alert (rows of the alerts layer, as read), in their
        order, as ``cap_message`` writes it; the townships round all of them are read at once."""
        towns = self._townships_at(alerts.geometry)
        return [_cap_message(alerts.iloc[i], towns[i], sender=sender, web=web) for i in range(len(alerts))]

    def _townships_at(self, points: gpd.GeoSeries) -> list[gpd.GeoDataFrame]:
        """The townships (乡镇街道) each point lies in or on, in the store's order: one read of the
        admin areas within 0.001° of the points, one spatial index query."""
        if points.empty:
            return []
        minx, miny, maxx, maxy = points.total_bounds
        areas = self.store.read("admin_areas", bbox=(minx - 0.001, miny - 0.001, maxx + 0.001, maxy + 0.001), filters={"level": "乡镇街道"})
        if areas.empty:
            return [areas] * len(points)
        point_at, area_at = areas.sindex.query(points.to_numpy(), predicate="intersects")
        return [areas.iloc[np.sort(area_at[point_at == i])] for i in range(len(points))]

    def acknowledge(self, alert_id: str, *, actor: str, if_match: str | None = None) -> gpd.GeoDataFrame:
        """已发布 → 已确认, by ``actor`` now."""
        return self._step(alert_id, to="已确认", actor=actor, if_match=if_match, stamp=lambda row, at: row.update(acknowledged_by=actor, acknowledged_at=at))

    def resolve(self, alert_id: str, *, actor: str, if_match: str | None = None) -> gpd.GeoDataFrame:
        """已发布 or 已确认 → 已解除, by ``actor`` now."""
        return self._step(alert_id, to="已解除", actor=actor, if_match=if_match, stamp=lambda row, at: row.update(resolved_by=actor, resolved_at=at))


class RepeatedStep(InputError):
    """A step an alert has taken already (acknowledging one 已确认, resolving one 已解除, or going
    back): the request conflicts with the alert's state (HTTP 409), nothing is written."""


def _cap_message(row: pd.Series, towns: gpd.GeoDataFrame, *, sender: str, web: str | None) -> CapMessage:
    """One alert's current CAP message (see ``WarningService.cap_message``), given the townships
    its station lies in."""
    alert_id = str(row[SOURCE_ID])
    rings = [list(polygon.exterior.coords) for geometry in towns.geometry for polygon in getattr(geometry.simplify(0.001), "geoms", [geometry.simplify(0.001)])]
    adcodes = [*towns[SOURCE_ID], *sorted({str(a) for a in towns.get("parent_adcode", pd.Series(dtype=str)).dropna()})]
    description = "、".join(towns["name"].astype(str)) if not towns.empty else f"{row['station_id']} 站周边"
    revision = int(row["revision"] or 1)
    msg_type = "Alert" if revision == 1 else "Cancel" if row["status"] == "已解除" else "Update"
    previous = pd.Timestamp(row["previous_changed_at"] if pd.notna(row["previous_changed_at"]) else row["raised_at"]).to_pydatetime()
    sent = pd.Timestamp(row["changed_at"] if pd.notna(row["changed_at"]) else row["raised_at"]).to_pydatetime()
    family = str(row["rule"])
    return CapMessage(
        alert_id=alert_id, revision=revision, msg_type=msg_type, sent=sent, level=str(row["level"]),  # type: ignore[arg-type]
        event=EVENTS[family], category="Infra" if family == "离线" else "Met", headline=str(row["headline"] or ""),
        description=f"{row['headline']}。状态：{row['status']}。", instruction=INSTRUCTIONS[str(row["level"])],
        area=CapArea(description, rings=rings, adcodes=adcodes), sender=sender,
        references=[(f"{alert_id}.{revision - 1}", previous)] if revision > 1 else [], web=web,
        parameters=[("站码", str(row["station_id"])), ("预警类别", family)],
    )


def _only(judged: Judgement, applies: NDArray[np.bool_], none: Judgement) -> Judgement:
    """The judgement where the family applies to the station, no warning elsewhere."""
    return Judgement(np.where(applies, judged.rank, none.rank).astype(np.int8), np.where(applies, judged.rearmed, True),
                     np.where(applies, judged.value, np.nan), np.where(applies, judged.threshold, np.nan))


def _what(family: str, value: float, threshold: float) -> str:
    """The headline's reason, in Chinese, with units."""
    return {
        "暴雨": f"降雨 {value:.1f} mm（阈值 {threshold:g} mm）",
        "水位": f"水位 {value:.2f} m（超 {threshold:.2f} m）",
        "涨率": f"水位上涨 {value:.2f} m（阈值 {threshold:g} m）",
        "离线": f"已 {value:.0f} 分钟无数据（阈值 {threshold:g} 分钟）",
    }[family]



class EvaluationLoop:
    """Runs the rules in one background thread, never inside a request: soon after new readings
    (``poke``, at most once per ``settle_s``) and every ``interval_s`` (a gauge that goes quiet
    sends nothing to poke with). ``interval_s`` 0: only when poked. ``then`` gets each evaluation,
    in the same thread (the risk picture follows the gauges there)."""

    def __init__(self, service: WarningService, *, interval_s: float = 60.0, settle_s: float = 0.5, then: Callable[[Evaluation], None] | None = None) -> None:
        self.service, self.interval_s, self.settle_s, self.then = service, interval_s, settle_s, then
        self._poked, self._stop, self.paused = threading.Event(), threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._run, name="onemap-warning", daemon=True)
        self.last: Evaluation | None = None
        self.error: str | None = None

    def start(self) -> None:
        self._thread.start()

    def poke(self) -> None:
        """New readings arrived: evaluate soon."""
        self._poked.set()

    def close(self) -> None:
        self._stop.set()
        self._poked.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._poked.wait(timeout=self.interval_s or None)
            if self._stop.is_set():
                return
            self._poked.clear()
            if self.paused.is_set():  # someone else judges meanwhile (the demo's storm, at its own clock)
                continue
            try:
                self.last, self.error = self.service.evaluate(), None
                if self.then is not None:
                    self.then(self.last)
            except Exception as error:  # the loop must outlive one bad evaluation; the error is kept and logged
                if self._stop.is_set():
                    return  # the app is shutting down and closed its store under this evaluation
                self.error = f"{type(error).__name__}: {error}"
                logger.exception("warning evaluation failed")
            self._stop.wait(self.settle_s)
