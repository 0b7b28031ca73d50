"""Warning rules, graded in the four warning colours (蓝 < 黄 < 橙 < 红), read from a plain mapping
(the YAML file is read in layers/; here it is only checked and typed).

Three families, each judged per station:

- ``rainfall``: accumulations over windows of hours against thresholds in millimetres. The shipped
  defaults are the meteorological rainstorm warning signals (暴雨预警信号, 气象灾害预警信号发布与传播
  办法, 中国气象局令第16号, 2007): 蓝 12 h ≥ 50 mm, 黄 6 h ≥ 50 mm, 橙 3 h ≥ 50 mm, 红 3 h ≥ 100 mm.
- ``water_level``: the station's own thresholds (metres), each naming the field that holds it
  (汛限水位 ``flood_limit_level_m``, 警戒水位 ``warning_level_m``, 保证水位 ``guaranteed_level_m``,
  设计洪水位 ``design_flood_level_m``), plus a ``rise`` rule: a rise of at least so many metres
  within a window of hours.
- ``stale``: no report for so many minutes. A gauge that goes quiet in a storm is a warning itself.

``deadband`` is the hysteresis: once raised, an alert's rule must fall that far below its lowest
threshold (mm for rain, m for levels) before the same rule may raise a new alert.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..grades import WARNING_LEVELS, warning_rank

WATER_THRESHOLD_FIELDS = ("flood_limit_level_m", "warning_level_m", "guaranteed_level_m", "design_flood_level_m")
"""The station fields a water-level rule may name (metres above the gauge's datum)."""


class RuleError(ValueError):
    """A rule file that cannot be used; the message names the rule and the field."""


@dataclass(frozen=True)
class RainfallRule:
    """``level`` when the rain of the last ``window_h`` hours reaches ``threshold_mm``."""

    level: str
    window_h: float
    threshold_mm: float


@dataclass(frozen=True)
class LevelRule:
    """``level`` when the water reaches the station's ``threshold_field`` plus ``offset_m``."""

    level: str
    threshold_field: str
    offset_m: float = 0.0


@dataclass(frozen=True)
class RiseRule:
    """``level`` when the water rose at least ``rise_m`` within the last ``window_h`` hours."""

    level: str
    window_h: float
    rise_m: float


@dataclass(frozen=True)
class StaleRule:
    """``level`` when a station has sent nothing for ``minutes``."""

    level: str
    minutes: float


@dataclass(frozen=True)
class RuleSet:
    """Every rule, and the deadbands of the hysteresis (mm of rain, m of water)."""

    rainfall: tuple[RainfallRule, ...]
    water_level: tuple[LevelRule, ...]
    rise: RiseRule | None
    stale: StaleRule | None
    rain_deadband_mm: float
    level_deadband_m: float

    @property
    def windows_h(self) -> tuple[float, ...]:
        """The accumulation windows the rainfall rules need, shortest first (hours)."""
        return tuple(sorted({rule.window_h for rule in self.rainfall}))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str = "rules") -> RuleSet:
        """Checked rules from a parsed YAML mapping; a RuleError names the file, rule and field."""
        if not isinstance(data, Mapping):
            raise RuleError(f"{source}: expected a mapping with rainfall, water_level, stale and deadband")
        unknown = set(data) - {"rainfall", "water_level", "stale", "deadband", "sources"}
        if unknown:
            raise RuleError(f"{source}: unknown sections {sorted(unknown)}; allowed: rainfall, water_level, stale, deadband, sources")
        rainfall = tuple(_rainfall(item, f"{source}: rainfall[{i}]") for i, item in enumerate(_list(data, "rainfall", source)))
        water = data.get("water_level") or {}
        if not isinstance(water, Mapping):
            raise RuleError(f"{source}: water_level must be a mapping with thresholds and rise")
        levels = tuple(_level(item, f"{source}: water_level.thresholds[{i}]") for i, item in enumerate(_list(water, "thresholds", f"{source}: water_level")))
        rise = _rise(water["rise"], f"{source}: water_level.rise") if water.get("rise") is not None else None
        stale = _stale(data["stale"], f"{source}: stale") if data.get("stale") is not None else None
        deadband = data.get("deadband") or {}
        if not isinstance(deadband, Mapping):
            raise RuleError(f"{source}: deadband must be a mapping with rain_mm and level_m")
        return cls(
            rainfall=rainfall,
            water_level=levels,
            rise=rise,
            stale=stale,
            rain_deadband_mm=_number(deadband, "rain_mm", f"{source}: deadband", default=5.0, minimum=0.0),
            level_deadband_m=_number(deadband, "level_m", f"{source}: deadband", default=0.05, minimum=0.0),
        )


def _list(data: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = data.get(key) or []
    if not isinstance(value, list):
        raise RuleError(f"{where}: {key} must be a list")
    return value


def _number(item: Mapping[str, Any], key: str, where: str, *, default: float | None = None, minimum: float | None = None, positive: bool = False) -> float:
    value = item.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RuleError(f"{where}: {key} must be a number, got {value!r}")
    if positive and not value > 0:
        raise RuleError(f"{where}: {key} must be positive, got {value!r}")
    if minimum is not None and value < minimum:
        raise RuleError(f"{where}: {key} must be at least {minimum:g}, got {value!r}")
    return float(value)


def _colour(item: Mapping[str, Any], where: str) -> str:
    level = item.get("level")
    try:
        warning_rank(level)
    except ValueError:
        raise RuleError(f"{where}: level must be one of {'/'.join(WARNING_LEVELS)}, got {level!r}") from None
    if level is None:
        raise RuleError(f"{where}: level is missing (one of {'/'.join(WARNING_LEVELS)})")
    return str(level)


def _checked(item: Any, where: str, keys: set[str]) -> Mapping[str, Any]:
    if not isinstance(item, Mapping):
        raise RuleError(f"{where}: expected a mapping with {', '.join(sorted(keys))}")
    unknown = set(item) - keys
    if unknown:
        raise RuleError(f"{where}: unknown fields {sorted(unknown)}; allowed: {', '.join(sorted(keys))}")
    return item


def _rainfall(item: Any, where: str) -> RainfallRule:
    item = _checked(item, where, {"level", "window_h", "threshold_mm"})
    window = _number(item, "window_h", where, positive=True)
    if window > 72:
        raise RuleError(f"{where}: window_h at most 72 h, got {window:g}")
    return RainfallRule(_colour(item, where), window, _number(item, "threshold_mm", where, positive=True))


def _level(item: Any, where: str) -> LevelRule:
    item = _checked(item, where, {"level", "threshold", "offset_m"})
    field = item.get("threshold")
    if field not in WATER_THRESHOLD_FIELDS:
        raise RuleError(f"{where}: threshold must name one of {', '.join(WATER_THRESHOLD_FIELDS)}, got {field!r}")
    return LevelRule(_colour(item, where), str(field), _number(item, "offset_m", where, default=0.0))


def _rise(item: Any, where: str) -> RiseRule:
    item = _checked(item, where, {"level", "window_h", "rise_m"})
    return RiseRule(_colour(item, where), _number(item, "window_h", where, positive=True), _number(item, "rise_m", where, positive=True))


def _stale(item: Any, where: str) -> StaleRule:
    item = _checked(item, where, {"level", "minutes"})
    return StaleRule(_colour(item, where), _number(item, "minutes", where, positive=True))
