"""Which depot sends what to which shelter: for each item a transportation LP from the depots'
stocks to the shelters' demand, minimising Σ quantity × road travel time, solved by HiGHS
(scipy.optimize.linprog, dual simplex, as gis/coverage/assignment.py does).

Per item, variables x_p ≥ 0 (quantity on each depot–shelter pair the road reaches) and u_s ≥ 0
(demand of shelter s left unmet):

    minimise Σ minutes_p · x_p + M · Σ u_s
    subject to  Σ_{p to s} x_p + u_s = need_s        (every need sent or counted short)
                Σ_{p from d} x_p ≤ stock_d           (no depot sends more than it holds)

The LP is always feasible (everything may go unmet). With M = (number of depots) × (longest pair
time) + 1, sending one more unit always pays more than any re-routing it forces (an augmenting
path passes each depot at most once), so the LP first sends as much as the stocks and roads
allow, then minimises the quantity-minutes. Unreachable pairs (travel time inf) are no variables
and never carry flow. With whole-number stocks and needs the simplex vertex is whole too.

Quantities are in each item's unit (kg, l, piece…), travel times in minutes; an item's unit must
be the same in the stocks and the demand.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.optimize import linprog
from scipy.sparse import csr_matrix, hstack, identity

from . import ScenarioInputError


class AllocationError(RuntimeError):
    """HiGHS did not reach an optimum (never expected: the LP is always feasible and bounded)."""


@dataclass(frozen=True)
class Allocation:
    """The optimal deliveries.

    ``flows``: depot_id, shelter_id, item, quantity, unit, travel_time_min (the arrival time
    after dispatch), positive flows only. ``by_item``: item, unit, needed, available (all
    depots' stock), sent, short. ``by_shelter``: shelter_id, item, unit, needed, received,
    short. ``total_cost``: Σ quantity × minutes over the flows (mixed units: a tie-breaker,
    not a figure to report)."""

    flows: pd.DataFrame
    by_item: pd.DataFrame
    by_shelter: pd.DataFrame
    total_cost: float
    solver_status: str


def transport(stock: NDArray[np.float64], need: NDArray[np.float64], minutes: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64], str]:
    """The numeric core for one item: ``stock`` per depot (m,), ``need`` per shelter (n,),
    ``minutes`` (m, n) with inf where the road does not reach. Returns the flow (m, n), the unmet
    need (n,) and HiGHS's status message."""
    stock, need, minutes = (np.asarray(a, dtype=float) for a in (stock, need, minutes))
    flow = np.zeros(minutes.shape)
    live = np.isfinite(minutes) & (stock[:, None] > 0) & (need[None, :] > 0)
    depot, shelter = np.nonzero(live)
    if depot.size == 0:
        return flow, need.copy(), "nothing reachable to send"
    rows, row_of = np.unique(shelter, return_inverse=True)
    used, column_of = np.unique(depot, return_inverse=True)
    m, k = depot.size, rows.size
    times = minutes[depot, shelter]
    big_m = used.size * float(times.max()) + 1.0
    cost = np.concatenate([times, np.full(k, big_m)])
    meet = hstack([csr_matrix((np.ones(m), (row_of, np.arange(m))), shape=(k, m)), identity(k, format="csr")]).tocsr()
    hold = hstack([csr_matrix((np.ones(m), (column_of, np.arange(m))), shape=(used.size, m)), csr_matrix((used.size, k))]).tocsr()
    result = linprog(cost, A_ub=hold, b_ub=stock[used], A_eq=meet, b_eq=need[rows], bounds=(0, None), method="highs-ds")
    if result.status != 0:
        raise AllocationError(f"the allocation LP did not solve: {result.message}")
    sent = result.x[:m]
    # HiGHS works to ~1e-9 relative: dust below that is no delivery.
    sent = np.where(sent > 1e-9 * max(float(need.max()), 1.0), sent, 0.0)
    flow[depot, shelter] = sent
    unmet = np.maximum(need - flow.sum(axis=0), 0.0)
    return flow, unmet, str(result.message)


def allocate_supplies(stocks: pd.DataFrame, demand: pd.DataFrame, travel_min: pd.DataFrame) -> Allocation:
    """Deliveries from the depots' ``stocks`` to the shelters' ``demand``, item by item.

    Parameters
    ----------
    stocks
        depot_id, item, quantity (≥ 0), unit; several rows of one depot and item are summed.
    demand
        shelter_id, item, quantity (≥ 0), unit (e.g. ``gis.scenario.needs.needs_by_shelter``).
    travel_min
        Road travel time in minutes, index depot_id, columns shelter_id; ``inf`` where the road
        does not reach. Every depot of ``stocks`` and shelter of ``demand`` must be in it.

    Raises ScenarioInputError for missing columns, negative or non-numeric quantities, NaN or
    negative times, ids missing from the matrix, and an item whose unit differs between rows.
    """
    stocks = _table(stocks, "stocks", "depot_id")
    demand = _table(demand, "demand", "shelter_id")
    units = _units(stocks, demand)
    times = _matrix(travel_min, stocks["depot_id"], demand["shelter_id"])
    depots, shelters = times.index.to_numpy(), times.columns.to_numpy()
    flows, item_rows, shelter_rows, total, statuses = [], [], [], 0.0, []
    for item in pd.unique(demand["item"]):
        unit = units[item]
        stock = stocks.loc[stocks["item"] == item].groupby("depot_id")["quantity"].sum().reindex(depots, fill_value=0.0).to_numpy()
        need = demand.loc[demand["item"] == item].groupby("shelter_id")["quantity"].sum().reindex(shelters, fill_value=0.0).to_numpy()
        flow, unmet, status = transport(stock, need, times.to_numpy())
        statuses.append(status)
        d, s = np.nonzero(flow)
        minutes = times.to_numpy()[d, s]
        total += float(flow[d, s] @ minutes)
        flows.append(pd.DataFrame({"depot_id": depots[d], "shelter_id": shelters[s], "item": item, "quantity": flow[d, s], "unit": unit, "travel_time_min": minutes}))
        item_rows.append((item, unit, float(need.sum()), float(stock.sum()), float(flow.sum()), float(unmet.sum())))
        wanted = need > 0
        shelter_rows.append(pd.DataFrame({"shelter_id": shelters[wanted], "item": item, "unit": unit, "needed": need[wanted], "received": flow.sum(axis=0)[wanted], "short": unmet[wanted]}))
    flow_columns = {"depot_id": object, "shelter_id": object, "item": object, "quantity": float, "unit": object, "travel_time_min": float}
    all_flows = pd.concat(flows, ignore_index=True) if flows else pd.DataFrame({c: pd.Series(dtype=t) for c, t in flow_columns.items()})
    by_item = pd.DataFrame(item_rows, columns=["item", "unit", "needed", "available", "sent", "short"])
    by_shelter = pd.concat(shelter_rows, ignore_index=True) if shelter_rows else pd.DataFrame(columns=["shelter_id", "item", "unit", "needed", "received", "short"])
    return Allocation(all_flows, by_item, by_shelter, total, "; ".join(sorted(set(statuses))) or "nothing to allocate")


def _table(frame: pd.DataFrame, label: str, key: str) -> pd.DataFrame:
    """The frame's key, item, quantity, unit columns, checked: quantities numbers ≥ 0."""
    if not isinstance(frame, pd.DataFrame):
        raise ScenarioInputError(f"{label}: expected a DataFrame, got {type(frame).__name__}")
    columns = [key, "item", "quantity", "unit"]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ScenarioInputError(f"{label}: missing column(s) {', '.join(missing)}; has {', '.join(map(str, frame.columns))}")
    table = frame[columns].copy()
    quantity = pd.to_numeric(table["quantity"], errors="coerce")
    bad = ~np.isfinite(quantity.to_numpy(dtype=float)) | (quantity.to_numpy(dtype=float) < 0)
    if bad.any():
        first = np.flatnonzero(bad)[0]
        raise ScenarioInputError(f"{label}: quantity must be a number ≥ 0; row {frame.index[first]} ({table[key].iloc[first]}, {table['item'].iloc[first]}) has {frame['quantity'].iloc[first]!r}")
    table["quantity"] = quantity.astype(float)
    return table


def _matrix(travel_min: pd.DataFrame, depots: pd.Series, shelters: pd.Series) -> pd.DataFrame:
    """The travel-time matrix restricted to the depots and shelters in play, checked."""
    if not isinstance(travel_min, pd.DataFrame):
        raise ScenarioInputError(f"travel_min: expected a DataFrame (index depot_id, columns shelter_id), got {type(travel_min).__name__}")
    for axis, ids, what in ((travel_min.index, depots, "depot"), (travel_min.columns, shelters, "shelter")):
        if axis.has_duplicates:
            raise ScenarioInputError(f"travel_min: {what} id(s) {', '.join(map(str, axis[axis.duplicated()].unique()))} appear twice")
        absent = [str(i) for i in pd.unique(ids) if i not in axis]
        if absent:
            raise ScenarioInputError(f"travel_min: no travel times for {what}(s) {', '.join(absent[:10])}{' …' if len(absent) > 10 else ''}")
    raw = travel_min.loc[list(pd.unique(depots)), list(pd.unique(shelters))]
    times = raw.apply(pd.to_numeric, errors="coerce").astype(float)
    values = times.to_numpy()
    bad = np.isnan(values) | (values < 0)
    if bad.any():
        d, s = (int(a[0]) for a in np.nonzero(bad))
        raise ScenarioInputError(f"travel_min: depot {times.index[d]} → shelter {times.columns[s]} is {raw.to_numpy()[d, s]}; times are minutes ≥ 0, inf where the road does not reach")
    return times


def _units(stocks: pd.DataFrame, demand: pd.DataFrame) -> dict[object, str]:
    """Each item's one unit; an item listed in two units raises, naming where each was used."""
    both = pd.concat([stocks.assign(table="stocks"), demand.assign(table="demand")], ignore_index=True)
    units: dict[object, str] = {}
    for item, rows in both.groupby("item", sort=False):
        found = pd.unique(rows["unit"].astype(str))
        if len(found) > 1:
            where = "; ".join(f"{u} in {', '.join(pd.unique(rows.loc[rows['unit'].astype(str) == u, 'table']))}" for u in found)
            raise ScenarioInputError(f"item {item!r} comes in different units ({where}); convert to one unit first")
        units[item] = str(found[0])
    return units
