"""The risk picture follows the gauges on a real store: a reservoir's gauge over 汛限水位 sets the
reservoir's level (and 超汛限), rain in a rainstorm warning raises the flood-prone areas near the
gauge, and the kept zoning is redone block by block — equal, score for score, to a full run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import shapely

from layers.io.observations import Observation
from layers.io.warning_rules import read_warning_rules
from layers.services.risk import RiskService
from layers.services.routing import RoutingService
from layers.services.warning import WarningService
from layers.settings import Settings
from layers.store import open_store


def test_a_storm_moves_the_kept_zoning_block_by_block_as_a_full_run_would(sample_settings: Settings) -> None:
    settings = sample_settings.model_copy(update={"risk_resolution_m": 500.0})
    now = datetime.now(UTC).replace(microsecond=0)
    with open_store(settings) as store:
        risk = RiskService(store, settings, RoutingService(store, settings))
        base = risk.current()
        first_revision = risk.revision

        stations = store.read("monitoring_stations")
        reservoirs = store.read("reservoirs").set_index("source_id")
        gauged = stations[(stations["kind"] == "水位") & stations["reservoir_id"].notna()]
        below = gauged[[reservoirs.loc[r, "reservoir_class"] == "中型" and not reservoirs.loc[r, "above_flood_limit"] for r in gauged["reservoir_id"]]]
        assert not below.empty, "the sample city has a gauged 中型 reservoir below its flood limit"
        gauge = below.iloc[0]
        reservoir_id = gauge["reservoir_id"]
        limit = float(reservoirs.loc[reservoir_id, "flood_limit_level_m"])
        areas = store.read("flood_prone_areas")
        rain = stations[stations["kind"] == "雨量"]
        near = rain[[bool(shapely.intersects(areas.union_all().buffer(0.02), p)) for p in rain.geometry]]
        rain_gauge = near.iloc[0]["source_id"]
        store.upsert_observations([Observation(gauge["source_id"], now - timedelta(minutes=5), limit + 0.6, "m", None)]
                                  + [Observation(rain_gauge, now - timedelta(minutes=5 * k), 2.5, "mm", None) for k in range(24)])  # 60 mm in 2 h: 橙

        warning = WarningService(store, settings, read_warning_rules(None))
        evaluation = warning.evaluate(now)
        assert evaluation.reservoirs_updated == [reservoir_id]
        assert evaluation.rain_warnings.get(rain_gauge) == 2
        stored = store.get("reservoirs", reservoir_id).iloc[0]
        assert stored["current_level_m"] == limit + 0.6 and bool(stored["above_flood_limit"])
        assert warning.evaluate(now).reservoirs_updated == [], "the same level is not written again"

        assert risk.cached() is None, "the kept zoning is for the data before the storm"
        risk.follow(evaluation)
        live = risk.cached()
        assert live is not None and risk.revision == first_revision + 1
        assert any(note.startswith("live: ") for note in live.notes)
        assert live.timings_s["live_s"] < 5.0
        assert (live.score >= base.score).all() and (live.score > base.score).sum() > 10
        assert (live.hazards["flood_prone_areas"] > base.hazards["flood_prone_areas"]).any() and (live.hazards["reservoirs"] > base.hazards["reservoirs"]).any()

        fresh = RiskService(store, settings, RoutingService(store, settings))
        fresh.follow_rain(evaluation.rain_warnings)
        full = fresh.current()
        np.testing.assert_array_equal(live.score, full.score)
        for name in full.hazards:
            np.testing.assert_array_equal(live.hazards[name], full.hazards[name])
        assert not risk.refresh_live(), "nothing moved since"
