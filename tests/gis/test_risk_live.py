"""Live re-zoning on the sample city: a reservoir passing 汛限水位 and rain over flood-prone areas
redraw only the blocks they reach, and those blocks equal a full run's cells exactly."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.crs import WORK_EPSG as CITY_EPSG
from gis.risk import RiskGrid
from gis.risk.live import changed_intensities, rain_multipliers, rezone
from gis.risk.model import FACTOR_DEFAULTS
from gis.risk.surfaces import RAIN_MULTIPLIER
from gis.risk.zoning import config_from_mapping, zone_risk

HAZARDS = ("reservoirs", "geohazard_points", "chemical_parks", "hazardous_enterprises", "flood_prone_areas")


def _full(city: dict[str, gpd.GeoDataFrame], layers: dict[str, gpd.GeoDataFrame], breaks: tuple[float, float, float] | None = None):  # type: ignore[no-untyped-def]
    grid = RiskGrid.covering(city["admin_areas"].to_crs(CITY_EPSG).total_bounds, 200.0, CITY_EPSG)
    config = config_from_mapping({"classification": "fixed", "breaks": list(breaks)} if breaks else None)
    return zone_risk(layers, city["population"], city["admin_areas"], city["rescue_stations"], grid=grid, config=config)


def test_a_reservoir_over_its_limit_and_rain_redraw_only_their_blocks_as_a_full_run_would(sample_city: dict[str, gpd.GeoDataFrame]) -> None:
    layers = {name: sample_city[name].copy() for name in HAZARDS}
    base = _full(sample_city, layers)

    reservoirs = layers["reservoirs"].copy()
    below = np.flatnonzero((reservoirs["current_level_m"] <= reservoirs["flood_limit_level_m"]).to_numpy() & (reservoirs["reservoir_class"] == "中型").to_numpy())
    assert below.size, "the sample city should have a 中型 reservoir below its flood limit"
    first = below[0]
    reservoirs.loc[reservoirs.index[first], "current_level_m"] = reservoirs["flood_limit_level_m"].iloc[first] + 0.5
    flood = layers["flood_prone_areas"].copy()
    metric = np.asarray(flood.to_crs(CITY_EPSG).geometry.array, dtype=object)
    gauge = shapely.get_coordinates(shapely.centroid(metric[:1]))
    flood[RAIN_MULTIPLIER] = rain_multipliers(metric, gauge, np.array([2], np.int8), FACTOR_DEFAULTS["flood_prone_areas"]["rain"])  # 橙
    assert (flood[RAIN_MULTIPLIER] == 1.2).sum() >= 1 and (flood[RAIN_MULTIPLIER] == 1.0).sum() >= 1

    changed = changed_intensities(base, {"reservoirs": reservoirs, "flood_prone_areas": flood})
    assert changed is not None and set(changed) == {"reservoirs", "flood_prone_areas"}
    live = rezone(base, changed, sample_city["admin_areas"])
    full = _full(sample_city, {**layers, "reservoirs": reservoirs, "flood_prone_areas": flood}, base.upper_breaks)

    np.testing.assert_array_equal(live.score, full.score)
    np.testing.assert_array_equal(live.levels, full.levels)
    for name in full.hazards:
        np.testing.assert_array_equal(live.hazards[name], full.hazards[name])
    pd.testing.assert_frame_equal(live.areas, full.areas)
    assert (live.score > base.score).any() and not (live.score < base.score).any()
    assert live.level_totals != base.level_totals
    touched = next(n for n in live.notes if n.startswith("live: "))
    done, total = (int(w) for w in touched.split()[1:4:2])
    assert 0 < done < total / 2, touched
    assert base.levels is not live.levels and not np.array_equal(base.score, live.score)  # the base is left as it was


def test_moved_or_new_features_need_a_full_run(sample_city: dict[str, gpd.GeoDataFrame]) -> None:
    layers = {name: sample_city[name].copy() for name in HAZARDS}
    base = _full(sample_city, layers)
    assert changed_intensities(base, {"reservoirs": layers["reservoirs"]}) == {}
    moved = layers["reservoirs"].copy()
    moved.geometry = moved.geometry.translate(0.01, 0.0)
    assert changed_intensities(base, {"reservoirs": moved}) is None
    assert changed_intensities(base, {"reservoirs": layers["reservoirs"].iloc[1:]}) is None
