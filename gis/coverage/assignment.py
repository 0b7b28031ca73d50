"""Evacuation assignment: send each cell's residents to shelters within reach without exceeding any
capacity, placing as many people as possible and, among such plans, minimising total walking time.

A transportation LP solved by HiGHS (scipy.optimize.linprog): variables x_p ≥ 0 (persons on each
cell–shelter pair within reach) and u_i ≥ 0 (persons of cell i left unplaced);

    minimise Σ minutes_p · x_p + M · Σ u_i
    subject to  Σ_{p from i} x_p + u_i = demand_i     (every person placed or counted unplaced)
                Σ_{p to j} x_p ≤ capacity_j            (no shelter over capacity)

With M = (number of shelters) × (longest pair time) + 1, placing one more person always pays more
than any re-routing it forces (an augmenting path visits each shelter at most once), so the LP
first maximises placed persons, then minimises walking time. A transportation LP with integral
demands and capacities has integral optimal vertices, which the simplex returns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.optimize import linprog
from scipy.sparse import csr_matrix, hstack, identity

from .reach import Reach


class AssignmentError(RuntimeError):
    """The solver did not reach an optimum (never expected for a feasible transportation LP)."""


@dataclass(frozen=True)
class Assignment:
    """The optimal plan: ``flows`` (cell, shelter, persons, minutes; only positive flows),
    per-cell ``placed``/``unplaced`` persons and per-shelter ``assigned`` persons."""

    flows: pd.DataFrame
    placed: NDArray[np.float64]
    unplaced: NDArray[np.float64]
    assigned: NDArray[np.float64]
    total_person_minutes: float
    solver_status: str

    @property
    def mean_minutes(self) -> float:
        placed = float(self.placed.sum())
        return self.total_person_minutes / placed if placed > 0 else float("nan")


def assign_evacuees(reach: Reach, demand: NDArray[np.float64], capacity: NDArray[np.float64]) -> Assignment:
    """Solve the capacity-respecting assignment for ``demand`` (persons per cell) and
    ``capacity`` (persons per shelter) over the pairs in ``reach``."""
    demand = np.asarray(demand, dtype=float)
    capacity = np.asarray(capacity, dtype=float)
    n_cells, n_shelters = reach.n_cells, reach.n_shelters
    pair_live = demand[reach.cell] > 0
    cell, shelter, minutes = reach.cell[pair_live], reach.shelter[pair_live], reach.minutes[pair_live]
    placed = np.zeros(n_cells)
    assigned = np.zeros(n_shelters)
    if cell.size == 0:
        empty = pd.DataFrame({"cell": np.zeros(0, np.int64), "shelter": np.zeros(0, np.int64), "persons": np.zeros(0), "minutes": np.zeros(0)})
        return Assignment(empty, placed, demand.copy(), assigned, 0.0, "nothing to assign")
    # Only cells with at least one pair enter the LP; the others are unplaced outright.
    rows, row_of_cell = np.unique(cell, return_inverse=True)
    m, k = cell.size, rows.size
    big_m = n_shelters * float(minutes.max()) + 1.0
    cost = np.concatenate([minutes, np.full(k, big_m)])
    supply = hstack([csr_matrix((np.ones(m), (row_of_cell, np.arange(m))), shape=(k, m)), identity(k, format="csr")]).tocsr()
    used = np.unique(shelter)
    column_of_shelter = np.searchsorted(used, shelter)
    limit = hstack([csr_matrix((np.ones(m), (column_of_shelter, np.arange(m))), shape=(used.size, m)), csr_matrix((used.size, k))]).tocsr()
    result = linprog(cost, A_ub=limit, b_ub=capacity[used], A_eq=supply, b_eq=demand[rows], bounds=(0, None), method="highs-ds")
    if result.status != 0:
        raise AssignmentError(f"the assignment LP did not solve: {result.message}")
    flow = np.where(result.x[:m] > 1e-9, result.x[:m], 0.0)
    np.add.at(placed, cell, flow)
    np.add.at(assigned, shelter, flow)
    unplaced = np.maximum(demand - placed, 0.0)
    positive = flow > 0
    flows = pd.DataFrame({"cell": cell[positive], "shelter": shelter[positive], "persons": flow[positive], "minutes": minutes[positive]})
    return Assignment(flows, placed, unplaced, assigned, float(flow @ minutes), str(result.message))
