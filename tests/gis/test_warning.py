"""Warning rules, judgements and hysteresis: rain accumulations against pandas' time-based rolling
sums, the rainstorm signal table on storms shaped for each colour, thresholds a station lacks,
rise and silence, and one alert per episode however long the value hovers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gis.grades import WARNING_LEVELS, warning_rank
from gis.warning.hysteresis import decide
from gis.warning.judge import (
    HOUR_S,
    judge_rainfall,
    judge_rise,
    judge_stale,
    judge_water_level,
    latest,
    rain_accumulations,
)
from gis.warning.rules import RuleError, RuleSet
from layers.errors import InputError
from layers.io.warning_rules import read_warning_rules

RULES = read_warning_rules()
AT = 1_800_000_000.0  # a moment, seconds since the epoch


def test_the_shipped_rules_are_the_rainstorm_signals() -> None:
    table = {(r.level, r.window_h, r.threshold_mm) for r in RULES.rainfall}
    assert table == {("蓝", 12, 50), ("黄", 6, 50), ("橙", 3, 50), ("红", 3, 100)}
    assert RULES.windows_h == (3.0, 6.0, 12.0)
    assert [warning_rank(level) for level in WARNING_LEVELS] == [0, 1, 2, 3]


def test_rain_accumulations_match_pandas_rolling_sums() -> None:
    rng = np.random.default_rng(5)
    stations, rows = 40, 6000
    station = rng.integers(0, stations, rows)
    time_s = AT - rng.uniform(-2 * HOUR_S, 30 * HOUR_S, rows)  # some reports after the moment
    rain = rng.gamma(0.5, 2.0, rows)
    rain[rng.random(rows) < 0.02] = np.nan  # missing values
    windows = (1, 3, 6, 12, 24)
    ours = rain_accumulations(station, time_s, rain, at_s=AT, windows_h=windows, stations=stations)
    frame = pd.DataFrame({"station": station, "time": pd.to_datetime(time_s, unit="s"), "rain": rain})
    for s in range(stations):
        series = frame[frame["station"] == s].set_index("time")["rain"].fillna(0.0)
        series = pd.concat([series, pd.Series([0.0], index=[pd.to_datetime(AT, unit="s")])]).sort_index()
        series = series[series.index <= pd.to_datetime(AT, unit="s")]
        for column, window in enumerate(windows):
            expected = series.rolling(f"{window}h", closed="right").sum().iloc[-1]
            assert ours[s, column] == pytest.approx(expected, abs=1e-9), (s, window)


@pytest.mark.parametrize(("total_mm", "hours", "expected"), [
    (45.0, 1.0, None),  # a heavy hour, but no window reaches its threshold
    (55.0, 10.0, "蓝"),  # 12 h ≥ 50 mm, 6 h only 33 mm
    (55.0, 5.0, "黄"),  # 6 h ≥ 50 mm
    (60.0, 2.0, "橙"),  # 3 h ≥ 50 mm
    (100.0, 2.5, "红"),  # 3 h ≥ 100 mm
])
def test_storms_raise_the_signal_of_their_shape(total_mm: float, hours: float, expected: str | None) -> None:
    steps = int(hours * 12)  # a report every 5 minutes
    time_s = AT - np.arange(steps)[::-1] * 300.0
    rain = np.full(steps, total_mm / steps)
    totals = rain_accumulations(np.zeros(steps, np.int64), time_s, rain, at_s=AT, windows_h=RULES.windows_h, stations=1)
    judged = judge_rainfall(totals, RULES.windows_h, RULES.rainfall, deadband_mm=RULES.rain_deadband_mm)
    assert judged.rank[0] == warning_rank(expected)
    assert bool(judged.rearmed[0]) == (total_mm < 45.0)


def test_water_levels_use_each_stations_own_thresholds() -> None:
    thresholds = {
        "flood_limit_level_m": np.array([100.0, 100.0, np.nan, 50.0]),
        "warning_level_m": np.array([101.0, np.nan, np.nan, 51.0]),  # station 1 has no 警戒水位
        "guaranteed_level_m": np.array([102.0, np.nan, np.nan, 52.0]),
        "design_flood_level_m": np.array([103.0, np.nan, np.nan, 53.0]),
    }
    level = np.array([101.5, 101.5, 999.0, 49.97])
    judged = judge_water_level(level, thresholds, RULES.water_level, deadband_m=RULES.level_deadband_m)
    assert judged.rank.tolist() == [1, 0, -1, -1]  # 黄; 蓝 (no 警戒水位 to reach); no thresholds at all; below
    assert judged.threshold[0] == 101.0 and judged.rearmed.tolist() == [False, False, True, False]  # 49.97 is within the deadband


def test_rise_silence_and_the_latest_value() -> None:
    station = np.array([0, 0, 0, 1, 1])
    time_s = AT - np.array([3000.0, 1200.0, 60.0, 1800.0, 60.0])
    level = np.array([10.0, 10.2, 10.6, 5.0, 5.1])
    values, times = latest(station, time_s, level, stations=3, at_s=AT)
    assert values[:2].tolist() == [10.6, 5.1] and np.isnan(values[2]) and times[0] == AT - 60.0
    assert RULES.rise is not None and RULES.stale is not None
    rise = judge_rise(station, time_s, level, RULES.rise, stations=3, at_s=AT, deadband_m=RULES.level_deadband_m)
    assert rise.rank.tolist() == [1, -1, -1] and rise.value[0] == pytest.approx(0.6)
    stale = judge_stale(np.array([AT - 61 * 60.0, AT - 600.0, np.nan]), RULES.stale, at_s=AT)
    assert stale.rank.tolist() == [0, -1, -1] and stale.rearmed.tolist() == [False, True, True]  # never heard: not gone quiet


def test_one_alert_per_episode_however_long_the_level_hovers() -> None:
    thresholds = {name: np.array([value]) for name, value in (("flood_limit_level_m", 100.0), ("warning_level_m", 101.0), ("guaranteed_level_m", 102.0), ("design_flood_level_m", 103.0))}
    hovering = [99.96, 100.01, 99.98, 100.02, 99.97, 100.0, 99.99] * 5  # within the 0.05 m deadband
    path = [*hovering, 101.2, 100.5, 101.1, 99.8, 100.3]
    episode, open_alert = np.array([-1], np.int8), np.array([False])
    log = []
    for value in path:
        judged = judge_water_level(np.array([value]), thresholds, RULES.water_level, deadband_m=RULES.level_deadband_m)
        decided = decide(episode, open_alert, judged)
        if decided.raise_[0]:
            log.append(("raise", WARNING_LEVELS[judged.rank[0]]))
            open_alert[0] = True
        if decided.upgrade[0]:
            log.append(("upgrade", WARNING_LEVELS[judged.rank[0]]))
        if decided.clearable[0]:
            log.append(("clearable", value))
            open_alert[0] = False  # an editor resolves it
        episode = decided.episode
    # Raised once at 100.01, upgraded at 101.2, back below 100 − 0.05 at 99.8, raised anew at 100.3.
    assert log == [("raise", "蓝"), ("upgrade", "黄"), ("clearable", 99.8), ("raise", "蓝")]


@pytest.mark.parametrize(("document", "message"), [
    ({"rainfall": [{"level": "紫", "window_h": 3, "threshold_mm": 50}]}, "level must be one of 蓝/黄/橙/红"),
    ({"rainfall": [{"level": "蓝", "window_h": -3, "threshold_mm": 50}]}, "rainfall[0]: window_h must be positive"),
    ({"rainfall": [{"level": "蓝", "window_h": 3, "threshold": 50}]}, "unknown fields ['threshold']"),
    ({"water_level": {"thresholds": [{"level": "黄", "threshold": "levee_m"}]}}, "threshold must name one of flood_limit_level_m"),
    ({"stale": {"level": "蓝", "minutes": "soon"}}, "stale: minutes must be a number"),
    ({"alarms": []}, "unknown sections ['alarms']"),
])
def test_bad_rules_name_the_rule_and_field(document: dict[str, object], message: str) -> None:
    with pytest.raises(RuleError, match=None) as raised:
        RuleSet.from_mapping(document, source="mine.yaml")
    assert message in str(raised.value) and str(raised.value).startswith("mine.yaml")


def test_a_rules_file_that_is_not_yaml_is_a_clear_error(tmp_path: Path) -> None:
    broken = tmp_path / "rules.yaml"
    broken.write_text("rainfall: [ {level: 蓝", encoding="utf-8")
    with pytest.raises(InputError, match="rules.yaml: not valid YAML"):
        read_warning_rules(broken)
    with pytest.raises(InputError, match="warning rules file not found"):
        read_warning_rules(tmp_path / "missing.yaml")
