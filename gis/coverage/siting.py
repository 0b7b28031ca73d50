"""Where to build new shelters: maximal covering (MCLP) and set covering (LSCP) as MILPs.

Solved with HiGHS through ``scipy.optimize.milp`` to proven optimality (relative gap 0 unless a
time limit stops it; the gap reached is reported). Demand rows with the same set of covering
candidates are merged first (weights summed): an exact reduction that makes city-size instances
small.

- MCLP (Church & ReVelle 1974): choose p sites, maximise the weight covered:
  max Σ w_g y_g  s.t.  y_g ≤ Σ_{j ∈ N_g} x_j,  Σ x_j = p,  x binary, 0 ≤ y ≤ 1.
- Capacitated MCLP: persons z_gj sent from g to an open site j within reach:
  max Σ z_gj  s.t.  Σ_j z_gj ≤ w_g,  Σ_g z_gj ≤ cap_j x_j,  Σ x_j = p.
- LSCP (Toregas et al. 1971): the fewest sites covering every coverable row:
  min Σ x_j  s.t.  Σ_{j ∈ N_g} x_j ≥ 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_matrix, hstack

from ..arraytools import first_per_group
from .params import CoverageInputError
from .reach import Reach


@dataclass(frozen=True)
class SitingSolution:
    """Chosen candidate positions, the objective (weight covered, or number of sites for LSCP), the
    solver's relative optimality gap, and the rows no candidate can cover. ``served``: for the
    capacitated model only, the weight (persons) each candidate serves within its capacity, indexed
    like the columns of the cover matrix (zero where not chosen)."""

    model: str
    selected: NDArray[np.int64]
    objective: float
    mip_gap: float
    status: str
    uncoverable: NDArray[np.bool_]
    served: NDArray[np.float64] | None = None


def cover_matrix(reach: Reach) -> csr_matrix:
    """Boolean (cells × candidates) matrix of the pairs in ``reach``."""
    return csr_matrix((np.ones(reach.cell.size, dtype=bool), (reach.cell, reach.shelter)), shape=(reach.n_cells, reach.n_shelters))


def _merge_rows(cover: csr_matrix, weights: NDArray[np.float64]) -> tuple[csr_matrix, NDArray[np.float64]]:
    """Rows with a positive weight and at least one candidate, merged when their candidate sets
    are equal (weights summed)."""
    cover = cover.tocsr()
    cover.sort_indices()
    groups: dict[bytes, int] = {}
    group_of_row = np.full(cover.shape[0], -1, dtype=np.int64)
    indptr, indices = cover.indptr, cover.indices.astype(np.int64)
    for row in np.flatnonzero((np.diff(indptr) > 0) & (weights > 0)):
        key = indices[indptr[row] : indptr[row + 1]].tobytes()
        group_of_row[row] = groups.setdefault(key, len(groups))
    live = group_of_row >= 0
    merged_weights = np.bincount(group_of_row[live], weights=weights[live], minlength=len(groups)).astype(float)
    rows = [np.frombuffer(key, dtype=np.int64) for key in groups]
    lengths = np.array([r.size for r in rows], dtype=np.int64)
    merged = csr_matrix(
        (np.ones(int(lengths.sum()), dtype=bool), np.concatenate(rows) if rows else np.zeros(0, np.int64), np.concatenate([[0], np.cumsum(lengths)])),
        shape=(len(groups), cover.shape[1]),
    )
    return merged, merged_weights


def _undominated(cover: csr_matrix) -> NDArray[np.int64]:
    """Candidates whose cover set is not inside another's (ties: the lowest number is kept).

    For uncapacitated covering, swapping a dominated candidate for its dominator never covers
    less, so dropping dominated columns is an exact reduction. Intersection sizes come from the
    sparse product CᵀC (cover sets are small, so it stays sparse).
    """
    columns = cover.tocsc().astype(np.int32)
    size = np.diff(columns.indptr)
    overlap = (columns.T @ columns).tocoo()
    j, k, shared = overlap.row, overlap.col, overlap.data
    inside = (j != k) & (shared == size[j]) & ((size[k] > size[j]) | ((size[k] == size[j]) & (k < j)))
    dominated = np.zeros(cover.shape[1], bool)
    dominated[j[inside]] = True
    dominated |= size == 0
    return np.flatnonzero(~dominated)


def _solve(cost: NDArray[np.float64], integrality: NDArray[np.int64], bounds: Bounds, constraints: list[LinearConstraint], time_limit_s: float | None) -> tuple[NDArray[np.float64], float, str]:
    options: dict[str, float] = {"mip_rel_gap": 0.0}
    if time_limit_s is not None:
        options["time_limit"] = time_limit_s
    result = milp(cost, integrality=integrality, bounds=bounds, constraints=constraints, options=options)
    if result.x is None:
        raise CoverageInputError(f"the siting model has no solution: {result.message}")
    gap = float(getattr(result, "mip_gap", 0.0) or 0.0)
    return np.asarray(result.x), gap, str(result.message)


def maximal_covering(
    cover: csr_matrix,
    weights: NDArray[np.float64],
    p: int,
    *,
    capacity: NDArray[np.float64] | None = None,
    time_limit_s: float | None = None,
) -> SitingSolution:
    """Choose ``p`` of the candidates (columns of ``cover``) covering the most weight (rows).

    With ``capacity`` (persons per candidate), a site covers at most its capacity.
    """
    cover = cover.tocsr()
    n_candidates = cover.shape[1]
    weights = np.asarray(weights, dtype=float)
    if not 1 <= p <= n_candidates:
        raise CoverageInputError(f"p = {p} new sites asked for, but there are {n_candidates} candidate sites; choose p between 1 and {n_candidates}")
    uncoverable = (np.diff(cover.indptr) == 0) & (weights > 0)
    model = "mclp" if capacity is None else "cmclp"
    columns = np.arange(n_candidates)
    if capacity is None:
        undominated = _undominated(cover[weights > 0])
        if undominated.size >= p:
            columns = undominated
    groups, w = _merge_rows(cover[:, columns], weights)
    k, g = columns.size, groups.shape[0]
    if g == 0:
        return SitingSolution(model, np.arange(p, dtype=np.int64), 0.0, 0.0, "no candidate covers any demand", uncoverable, served=None if capacity is None else np.zeros(n_candidates))
    served: NDArray[np.float64] | None = None
    if capacity is None:
        # y_g - Σ_{j ∈ N_g} x_j ≤ 0, Σ x_j = p
        link = hstack([-groups.astype(float), _sparse_identity(g)]).tocsr()
        choose_p = LinearConstraint(csr_matrix(np.concatenate([np.ones(k), np.zeros(g)])[None, :]), p, p)
        cost = np.concatenate([np.zeros(k), -w])
        integrality = np.concatenate([np.ones(k, np.int64), np.zeros(g, np.int64)])
        bounds = Bounds(np.zeros(k + g), np.ones(k + g))
        x, gap, status = _solve(cost, integrality, bounds, [LinearConstraint(link, -np.inf, 0.0), choose_p], time_limit_s)
    else:
        site_capacity = np.asarray(capacity, dtype=float)[columns]
        coo = groups.tocoo()
        pairs = coo.row.size
        pair_ids = np.arange(pairs)
        by_group = csr_matrix((np.ones(pairs), (coo.row, pair_ids)), shape=(g, pairs))
        by_site = csr_matrix((np.ones(pairs), (coo.col, pair_ids)), shape=(k, pairs))
        demand_rows = hstack([csr_matrix((g, k)), by_group]).tocsr()
        site_rows = hstack([csr_matrix((-site_capacity, (np.arange(k), np.arange(k))), shape=(k, k)), by_site]).tocsr()
        choose_p = LinearConstraint(csr_matrix(np.concatenate([np.ones(k), np.zeros(pairs)])[None, :]), p, p)
        cost = np.concatenate([np.zeros(k), -np.ones(pairs)])
        integrality = np.concatenate([np.ones(k, np.int64), np.zeros(pairs, np.int64)])
        bounds = Bounds(np.zeros(k + pairs), np.concatenate([np.ones(k), w[coo.row]]))
        constraints = [LinearConstraint(demand_rows, -np.inf, w), LinearConstraint(site_rows, -np.inf, 0.0), choose_p]
        x, gap, status = _solve(cost, integrality, bounds, constraints, time_limit_s)
        served = np.zeros(n_candidates)
        served[columns] = by_site @ x[k:]
    chosen = columns[np.flatnonzero(np.round(x[:k]) == 1)]
    return SitingSolution(model, chosen, float(-(cost @ x)), gap, status, uncoverable, served=served)


def _sparse_identity(n: int) -> csr_matrix:
    return csr_matrix((np.ones(n), (np.arange(n), np.arange(n))), shape=(n, n))


def set_covering(cover: csr_matrix, weights: NDArray[np.float64] | None = None, *, time_limit_s: float | None = None) -> SitingSolution:
    """The fewest candidates covering every row that any candidate can cover (rows with zero
    weight, when ``weights`` is given, need no cover)."""
    weights = np.ones(cover.shape[0]) if weights is None else np.asarray(weights, dtype=float)
    cover = cover.tocsr()
    uncoverable = (np.diff(cover.indptr) == 0) & (weights > 0)
    columns = _undominated(cover[weights > 0])
    groups, _ = _merge_rows(cover[:, columns], weights)
    if groups.shape[0] == 0:
        return SitingSolution("lscp", np.zeros(0, np.int64), 0.0, 0.0, "nothing to cover", uncoverable)
    k = columns.size
    x, gap, status = _solve(
        np.ones(k),
        np.ones(k, np.int64),
        Bounds(np.zeros(k), np.ones(k)),
        [LinearConstraint(groups.astype(float), 1.0, np.inf)],
        time_limit_s,
    )
    chosen = columns[np.flatnonzero(np.round(x) == 1)]
    return SitingSolution("lscp", chosen, float(chosen.size), gap, status, uncoverable)


def candidates_in_gaps(cells_xy: NDArray[np.float64], uncovered_residents: NDArray[np.float64], *, spacing_m: float = 2000.0) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Generated candidate sites: on a ``spacing_m`` lattice, one per block holding uncovered
    residents, at the centre of its most populous uncovered cell (people live there, so it is
    land, not water). Returns (xy, uncovered residents of the block), most populous block first."""
    live = np.flatnonzero(uncovered_residents > 0)
    if live.size == 0:
        return np.zeros((0, 2)), np.zeros(0)
    block = np.floor(cells_xy[live] / spacing_m).astype(np.int64)
    _, block_id = np.unique(block, axis=0, return_inverse=True)
    block_id = block_id.ravel()
    totals = np.bincount(block_id, weights=uncovered_residents[live])
    best = first_per_group(block_id, -uncovered_residents[live])
    ranking = np.lexsort((np.arange(best.size), -totals[block_id[best]]))
    return cells_xy[live[best[ranking]]], totals[block_id[best[ranking]]].astype(float)
