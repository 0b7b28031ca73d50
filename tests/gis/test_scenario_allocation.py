"""Deliveries from depots to shelters: a case solved by hand, networkx's network simplex on
random whole-number cases (same cost, same shortfall), unreachable pairs, empty stocks, units
and the input errors."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from gis.scenario import ScenarioInputError
from gis.scenario.allocation import allocate_supplies, transport
from gis.scenario.needs import needs_by_shelter
from layers.io.needs_profile import shipped_needs_profile

INF = math.inf


def frame(rows: list[tuple[object, ...]], key: str) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=[key, "item", "quantity", "unit"])


def matrix(values: list[list[float]], depots: list[str], shelters: list[str]) -> pd.DataFrame:
    return pd.DataFrame(values, index=depots, columns=shelters)


def test_a_case_solved_by_hand() -> None:
    """D1 holds 100 kg rice, D2 50 kg; S1 needs 80, S2 60. D1 is 10 min from S1 and 20 from S2;
    D2 is 15 from S1 and 12 from S2. Optimum: D2 → S2 50, D1 → S1 80, D1 → S2 10:
    cost 50·12 + 80·10 + 10·20 = 1,600 (every other way of sending all 140 costs more)."""
    stocks = frame([("D1", "rice", 100, "kg"), ("D2", "rice", 50, "kg")], "depot_id")
    demand = frame([("S1", "rice", 80, "kg"), ("S2", "rice", 60, "kg")], "shelter_id")
    plan = allocate_supplies(stocks, demand, matrix([[10, 20], [15, 12]], ["D1", "D2"], ["S1", "S2"]))
    flows = plan.flows.set_index(["depot_id", "shelter_id"])["quantity"].to_dict()
    assert flows == pytest.approx({("D1", "S1"): 80.0, ("D1", "S2"): 10.0, ("D2", "S2"): 50.0})
    assert plan.total_cost == pytest.approx(1600.0)
    assert list(plan.flows.columns) == ["depot_id", "shelter_id", "item", "quantity", "unit", "travel_time_min"]
    assert plan.flows.set_index(["depot_id", "shelter_id"]).loc[("D1", "S2"), "travel_time_min"] == 20
    row = plan.by_item.iloc[0]
    assert (row["item"], row["unit"], row["needed"], row["available"], row["sent"], row["short"]) == ("rice", "kg", 140, 150, 140, 0)


def test_short_stock_goes_where_it_is_cheapest_and_the_rest_is_short() -> None:
    """30 kits for 20 + 20: all 30 are sent (delivering comes before speed), the nearer shelter
    filled first; the shortfall is reported per item and per shelter."""
    stocks = frame([("D1", "family_kit", 30, "kit")], "depot_id")
    demand = frame([("S1", "family_kit", 20, "kit"), ("S2", "family_kit", 20, "kit")], "shelter_id")
    plan = allocate_supplies(stocks, demand, matrix([[5, 40]], ["D1"], ["S1", "S2"]))
    assert plan.by_item.iloc[0][["sent", "short"]].tolist() == [30, 10]
    short = plan.by_shelter.set_index("shelter_id")
    assert short.loc["S1", "received"] == 20 and short.loc["S2", "received"] == 10 and short.loc["S2", "short"] == 10


def test_unreachable_pairs_never_carry_flow() -> None:
    stocks = frame([("D1", "water", 500, "l"), ("D2", "water", 10, "l")], "depot_id")
    demand = frame([("S1", "water", 100, "l"), ("S2", "water", 100, "l")], "shelter_id")
    plan = allocate_supplies(stocks, demand, matrix([[INF, 30], [3, INF]], ["D1", "D2"], ["S1", "S2"]))
    pairs = set(zip(plan.flows["depot_id"], plan.flows["shelter_id"], strict=True))
    assert pairs == {("D1", "S2"), ("D2", "S1")}
    assert plan.by_shelter.set_index("shelter_id")["short"].to_dict() == {"S1": 90.0, "S2": 0.0}
    assert np.isfinite(plan.flows["travel_time_min"]).all()


def test_zero_stock_leaves_everything_short() -> None:
    stocks = frame([("D1", "rice", 0, "kg")], "depot_id")
    demand = frame([("S1", "rice", 12.5, "kg"), ("S2", "rice", 7, "kg"), ("S1", "tent", 3, "piece")], "shelter_id")
    plan = allocate_supplies(stocks, demand, matrix([[1, 2]], ["D1"], ["S1", "S2"]))
    assert plan.flows.empty
    assert plan.by_item.set_index("item")[["needed", "sent", "short"]].to_dict("index") == {
        "rice": {"needed": 19.5, "sent": 0.0, "short": 19.5},
        "tent": {"needed": 3.0, "sent": 0.0, "short": 3.0},
    }


def test_needs_profile_demand_flows_through() -> None:
    demand = needs_by_shelter({"S1": 11, "S2": 40}, shipped_needs_profile("inasafe"))
    stocks = pd.DataFrame({"depot_id": ["D1"] * 5, "item": ["rice", "drinking_water", "clean_water", "family_kit", "toilet"], "quantity": [1000, 2000, 5000, 5, 100], "unit": ["kg", "l", "l", "kit", "piece"]})
    plan = allocate_supplies(stocks, demand, matrix([[10, 25]], ["D1"], ["S1", "S2"]))
    kits = plan.by_item.set_index("item").loc["family_kit"]
    assert (kits["needed"], kits["sent"], kits["short"]) == (3 + 8, 5, 6)
    assert set(plan.by_item["item"]) == {"rice", "drinking_water", "clean_water", "family_kit", "toilet"}


def network_simplex(stock: np.ndarray, need: np.ndarray, minutes: np.ndarray) -> tuple[int, int]:
    """(quantity-minutes, shortfall) of the min-cost flow with the same penalty for unmet need:
    depots → shelters at their minutes, a 'short' source → every shelter at the penalty, and the
    unused stock and unused shortfall drained to a 'spare' sink at 0."""
    graph = nx.DiGraph()
    reach = np.isfinite(minutes) & (stock[:, None] > 0) & (need[None, :] > 0)
    depots_used = np.unique(np.nonzero(reach)[0]).size
    penalty = depots_used * int(minutes[reach].max()) + 1 if reach.any() else 1
    graph.add_node("short", demand=-int(need.sum()))
    graph.add_node("spare", demand=int(stock.sum()))
    for d, amount in enumerate(stock):
        graph.add_node(("d", d), demand=-int(amount))
        graph.add_edge(("d", d), "spare", weight=0)
    for s, amount in enumerate(need):
        graph.add_node(("s", s), demand=int(amount))
        graph.add_edge("short", ("s", s), weight=penalty)
    graph.add_edge("short", "spare", weight=0)
    for d, s in zip(*np.nonzero(np.isfinite(minutes)), strict=True):
        graph.add_edge(("d", d), ("s", s), weight=int(minutes[d, s]))
    _, flow = nx.network_simplex(graph)
    moved = sum(flow[("d", d)][("s", s)] * int(minutes[d, s]) for d, s in zip(*np.nonzero(np.isfinite(minutes)), strict=True))
    return int(moved), int(sum(flow["short"][("s", s)] for s in range(need.size)))


@pytest.mark.parametrize("seed", range(12))
def test_same_cost_and_shortfall_as_networkx_network_simplex(seed: int) -> None:
    rng = np.random.default_rng(seed)
    m, n = int(rng.integers(1, 7)), int(rng.integers(1, 9))
    stock = rng.integers(0, 40, m).astype(float)
    need = rng.integers(0, 30, n).astype(float)
    minutes = rng.integers(1, 90, (m, n)).astype(float)
    minutes[rng.random((m, n)) < 0.3] = INF
    flow, unmet, _ = transport(stock, need, minutes)
    reference_cost, reference_short = network_simplex(stock, need, minutes)
    assert float((flow[np.isfinite(minutes)] * minutes[np.isfinite(minutes)]).sum()) == pytest.approx(reference_cost, abs=1e-6)
    assert float(unmet.sum()) == pytest.approx(reference_short, abs=1e-6)
    assert np.allclose(flow, np.round(flow))  # whole-number data, whole-number plan
    assert (flow[~np.isfinite(minutes)] == 0).all()
    assert (flow.sum(axis=1) <= stock + 1e-9).all() and np.allclose(flow.sum(axis=0) + unmet, need)


@pytest.mark.parametrize(
    ("stocks", "demand", "times", "message"),
    [
        (frame([("D1", "water", 5, "l")], "depot_id"), frame([("S1", "water", 5, "kg")], "shelter_id"), None, "item 'water' comes in different units \\(l in stocks; kg in demand\\)"),
        (frame([("D1", "rice", 5, "kg"), ("D2", "rice", 5, "bag")], "depot_id"), frame([("S1", "rice", 5, "kg")], "shelter_id"), None, "different units"),
        (frame([("D1", "rice", -5, "kg")], "depot_id"), frame([("S1", "rice", 5, "kg")], "shelter_id"), None, "stocks: quantity must be a number ≥ 0"),
        (frame([("D1", "rice", 5, "kg")], "depot_id"), frame([("S1", "rice", "many", "kg")], "shelter_id"), None, "demand: quantity must be a number ≥ 0"),
        (frame([("D9", "rice", 5, "kg")], "depot_id"), frame([("S1", "rice", 5, "kg")], "shelter_id"), None, "no travel times for depot\\(s\\) D9"),
        (frame([("D1", "rice", 5, "kg")], "depot_id"), frame([("S7", "rice", 5, "kg")], "shelter_id"), None, "no travel times for shelter\\(s\\) S7"),
        (frame([("D1", "rice", 5, "kg")], "depot_id"), frame([("S1", "rice", 5, "kg")], "shelter_id"), matrix([[float("nan")]], ["D1"], ["S1"]), "D1 → shelter S1 is nan"),
        (frame([("D1", "rice", 5, "kg")], "depot_id"), frame([("S1", "rice", 5, "kg")], "shelter_id"), matrix([[-3]], ["D1"], ["S1"]), "minutes ≥ 0"),
        (frame([("D1", "rice", 5, "kg")], "depot_id").drop(columns="unit"), frame([("S1", "rice", 5, "kg")], "shelter_id"), None, "stocks: missing column\\(s\\) unit"),
        (frame([("D1", "rice", 5, "kg")], "depot_id"), frame([("S1", "rice", 5, "kg")], "shelter_id"), matrix([[1, 2]], ["D1"], ["S1", "S1"]), "shelter id\\(s\\) S1 appear twice"),
    ],
)
def test_wrong_inputs_say_what_is_wrong(stocks: pd.DataFrame, demand: pd.DataFrame, times: pd.DataFrame | None, message: str) -> None:
    times = times if times is not None else matrix([[5.0]], ["D1"], ["S1"])
    with pytest.raises(ScenarioInputError, match=message):
        allocate_supplies(stocks, demand, times)
