"""Judging stations against the warning rules, all stations at once (numpy arrays, one row per
station). Times are seconds since the epoch (UTC), rain in millimetres, water levels in metres.

Each family gives a ``Judgement``: the warning rank per station (0 蓝 … 3 红, -1 none), whether the
station is back below its lowest threshold by the deadband (``rearmed``: the hysteresis lets the
same rule raise again only after that), and the value and threshold that decided it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..grades import warning_rank
from .rules import LevelRule, RainfallRule, RiseRule, StaleRule

HOUR_S = 3600.0

TOLERANCE = 1e-6
"""Reaching a threshold allows for float rounding in sums (mm or m): gauges report to 0.1 mm or
1 cm, so 30 reports of 100/30 mm are 100 mm."""


@dataclass(frozen=True)
class Judgement:
    """Per station: rank (-1 none, 0 蓝 … 3 红), rearmed, the deciding value and its threshold
    (NaN where no rule applies)."""

    rank: NDArray[np.int8]
    rearmed: NDArray[np.bool_]
    value: NDArray[np.float64]
    threshold: NDArray[np.float64]


def rain_accumulations(station: NDArray[np.int64], time_s: NDArray[np.float64], rain_mm: NDArray[np.float64], *, at_s: float, windows_h: Sequence[float], stations: int) -> NDArray[np.float64]:
    """Rain of each station in each window of hours ending at ``at_s``, as a (stations, windows)
    array of millimetres: the sum of the increments reported for times in (at_s − window, at_s].
    Reports with a missing value (NaN) count as none."""
    totals = np.zeros((stations, len(windows_h)))
    usable = (time_s <= at_s) & np.isfinite(rain_mm)
    for column, window in enumerate(windows_h):
        inside = usable & (time_s > at_s - window * HOUR_S)
        totals[:, column] = np.bincount(station[inside], weights=rain_mm[inside], minlength=stations)
    return totals


def judge_rainfall(totals_mm: NDArray[np.float64], windows_h: Sequence[float], rules: Sequence[RainfallRule], *, deadband_mm: float) -> Judgement:
    """The gravest rainfall rule each station meets, given its ``rain_accumulations``; rearmed
    where every rule's accumulation is below its threshold by the deadband."""
    stations = totals_mm.shape[0]
    rank = np.full(stations, -1, np.int8)
    value, threshold = np.full(stations, np.nan), np.full(stations, np.nan)
    rearmed = np.ones(stations, bool)
    for rule in sorted(rules, key=lambda r: warning_rank(r.level)):
        rain = totals_mm[:, list(windows_h).index(rule.window_h)]
        met = rain >= rule.threshold_mm - TOLERANCE
        rank[met] = warning_rank(rule.level)
        value[met], threshold[met] = rain[met], rule.threshold_mm
        rearmed &= rain < rule.threshold_mm - deadband_mm
    return Judgement(rank, rearmed, value, threshold)


def latest(station: NDArray[np.int64], time_s: NDArray[np.float64], value: NDArray[np.float64], *, stations: int, at_s: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Each station's last finite value reported at or before ``at_s`` and its time (NaN: none)."""
    keep = np.isfinite(value) & (time_s <= at_s)
    station, time_s, value = station[keep], time_s[keep], value[keep]
    order = np.lexsort((time_s, station))  # by station, then time: each station's last row is its latest
    last = order[np.r_[station[order][1:] != station[order][:-1], True]] if order.size else order
    values, times = np.full(stations, np.nan), np.full(stations, np.nan)
    values[station[last]], times[station[last]] = value[last], time_s[last]
    return values, times


def judge_water_level(level_m: NDArray[np.float64], thresholds_m: Mapping[str, NDArray[np.float64]], rules: Sequence[LevelRule], *, deadband_m: float) -> Judgement:
    """The gravest threshold each station's latest level reaches, from the station's own
    thresholds (NaN: that station has none of that kind, and the rule passes it by); rearmed
    where the level is below every threshold it has by the deadband, or it has none."""
    stations = level_m.shape[0]
    rank = np.full(stations, -1, np.int8)
    value, threshold = np.full(stations, np.nan), np.full(stations, np.nan)
    rearmed = np.ones(stations, bool)
    for rule in sorted(rules, key=lambda r: warning_rank(r.level)):
        limit = thresholds_m[rule.threshold_field] + rule.offset_m
        met = np.isfinite(limit) & (level_m >= limit - TOLERANCE)
        rank[met] = warning_rank(rule.level)
        value[met], threshold[met] = level_m[met], limit[met]
        rearmed &= ~np.isfinite(limit) | ~(level_m >= limit - deadband_m)
    return Judgement(rank, rearmed, value, threshold)


def judge_rise(station: NDArray[np.int64], time_s: NDArray[np.float64], level_m: NDArray[np.float64], rule: RiseRule, *, stations: int, at_s: float, deadband_m: float) -> Judgement:
    """Stations whose water rose at least ``rule.rise_m`` within the window: the latest level
    minus the lowest reported in the window (metres)."""
    inside = np.isfinite(level_m) & (time_s <= at_s) & (time_s > at_s - rule.window_h * HOUR_S)
    lowest = np.full(stations, np.inf)
    np.minimum.at(lowest, station[inside], level_m[inside])
    now, _ = latest(station[inside], time_s[inside], level_m[inside], stations=stations, at_s=at_s)
    rise = np.where(np.isfinite(lowest), now - lowest, np.nan)
    met = rise >= rule.rise_m - TOLERANCE
    rank = np.where(met, warning_rank(rule.level), -1).astype(np.int8)
    rearmed = ~(rise >= rule.rise_m - deadband_m)
    return Judgement(rank, rearmed, np.where(met, rise, np.nan), np.where(met, rule.rise_m, np.nan))


def judge_stale(last_s: NDArray[np.float64], rule: StaleRule, *, at_s: float) -> Judgement:
    """Stations silent for ``rule.minutes`` or more; rearmed once they report again. A station
    never heard from is not judged: going quiet is the warning, and a gauge just registered has
    not gone quiet (NaN ``last_s``)."""
    silent_min = np.where(np.isfinite(last_s), (at_s - last_s) / 60.0, -np.inf)
    met = silent_min >= rule.minutes
    rank = np.where(met, warning_rank(rule.level), -1).astype(np.int8)
    return Judgement(rank, ~met, np.where(met, silent_min, np.nan), np.where(met, rule.minutes, np.nan))
