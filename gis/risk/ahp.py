"""Factor weights from an AHP pairwise-comparison matrix (Saaty), with the consistency check.

``a[i][j]`` says how much more factor i matters than factor j on Saaty's 1–9 scale (``a[j][i]`` is
its reciprocal). The weights are the principal eigenvector, normalised to sum 1; the consistency
index CI = (λmax − n) / (n − 1) and the consistency ratio CR = CI / RI, with Saaty's random index RI.
A matrix with CR ≥ 0.1 is refused, naming the judgement that disagrees most with the weights the
rest of the matrix implies (largest |log(a_ij · w_j / w_i)|), so the planner knows what to revise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

RANDOM_INDEX = (0.0, 0.0, 0.0, 0.58, 0.90, 1.12, 1.24, 1.32, 1.41, 1.45, 1.49, 1.51, 1.54, 1.56, 1.57, 1.59)
"""Saaty's random consistency index by matrix size n (index n; 1–15)."""
CR_LIMIT = 0.1
SAATY_MIN, SAATY_MAX = 1 / 9, 9.0
RECIPROCAL_TOLERANCE = 0.02  # judgements are often written as rounded decimals (0.33 for 1/3)


class AhpError(ValueError):
    """A comparison matrix that cannot give weights; the message says which entry and why."""


@dataclass(frozen=True)
class AhpResult:
    """Weights (sum 1, in factor order), λmax, CI and CR, and the most conflicting judgement."""

    factors: tuple[str, ...]
    weights: NDArray[np.float64]
    lambda_max: float
    consistency_index: float
    consistency_ratio: float
    worst_pair: tuple[str, str] | None
    worst_said: float
    worst_implied: float

    @property
    def consistent(self) -> bool:
        return self.consistency_ratio < CR_LIMIT

    def as_dict(self) -> dict[str, object]:
        return {
            "weights": dict(zip(self.factors, (float(w) for w in self.weights), strict=True)),
            "lambda_max": self.lambda_max,
            "consistency_index": self.consistency_index,
            "consistency_ratio": self.consistency_ratio,
        }


def _checked(matrix: Sequence[Sequence[float]] | NDArray[np.float64], factors: Sequence[str]) -> NDArray[np.float64]:
    try:
        a = np.asarray(matrix, dtype=float)
    except (TypeError, ValueError):
        raise AhpError("the AHP matrix must be rows of numbers") from None
    n = len(factors)
    if a.ndim != 2 or a.shape != (n, n):
        raise AhpError(f"the AHP matrix must be {n} × {n} (one row and column per factor: {', '.join(factors)}), got shape {a.shape}")
    if n > len(RANDOM_INDEX) - 1:
        raise AhpError(f"at most {len(RANDOM_INDEX) - 1} factors can be compared pairwise, got {n}")
    for i, j in zip(*np.nonzero(~np.isfinite(a) | (a <= 0)), strict=True):
        raise AhpError(f"AHP judgement {factors[i]} vs {factors[j]} is {float(a[i, j]):g}; judgements must be positive numbers (1/9 … 9)")
    for i in range(n):
        if abs(a[i, i] - 1.0) > 1e-9:
            raise AhpError(f"AHP judgement {factors[i]} vs itself must be 1, got {a[i, i]:g}")
        for j in range(n):
            if not SAATY_MIN * (1 - RECIPROCAL_TOLERANCE) <= a[i, j] <= SAATY_MAX * (1 + RECIPROCAL_TOLERANCE):
                raise AhpError(f"AHP judgement {factors[i]} vs {factors[j]} is {a[i, j]:g}; Saaty's scale runs from 1/9 to 9")
            if i < j and abs(a[i, j] * a[j, i] - 1.0) > RECIPROCAL_TOLERANCE:
                raise AhpError(f"AHP judgements {factors[i]} vs {factors[j]} ({a[i, j]:g}) and {factors[j]} vs {factors[i]} ({a[j, i]:g}) must be reciprocals")
    return a


def ahp_weights(matrix: Sequence[Sequence[float]] | NDArray[np.float64], factors: Sequence[str]) -> AhpResult:
    """Weights and consistency of a pairwise-comparison matrix (not yet judged: see ``require_consistent``)."""
    a = _checked(matrix, factors)
    n = a.shape[0]
    values, vectors = np.linalg.eig(a)
    principal = int(np.argmax(values.real))
    weights = np.abs(vectors[:, principal].real)
    weights = weights / weights.sum()
    lambda_max = float(values[principal].real)
    ci = max(0.0, (lambda_max - n) / (n - 1)) if n > 1 else 0.0
    cr = ci / RANDOM_INDEX[n] if RANDOM_INDEX[n] > 0 else 0.0
    worst: tuple[str, str] | None = None
    said = implied = float("nan")
    if n > 2:
        error = np.abs(np.log(a * weights[None, :] / weights[:, None]))
        i, j = (int(k) for k in np.unravel_index(int(np.argmax(np.triu(error, 1))), error.shape))
        worst, said, implied = (factors[i], factors[j]), float(a[i, j]), float(weights[i] / weights[j])
    return AhpResult(tuple(factors), weights, lambda_max, ci, cr, worst, said, implied)


def require_consistent(result: AhpResult) -> AhpResult:
    """``result`` if CR < 0.1; otherwise an ``AhpError`` naming the judgement to revise."""
    if result.consistent:
        return result
    assert result.worst_pair is not None  # CR > 0 needs n ≥ 3
    first, second = result.worst_pair
    raise AhpError(
        f"the AHP matrix is inconsistent: CR = {result.consistency_ratio:.3f} (must be below {CR_LIMIT}). "
        f"The judgements conflict most on {first} vs {second}: you gave {result.worst_said:g}, while the rest of the "
        f"matrix implies about {result.worst_implied:.2g}; revise that pair (or the ones it chains through)"
    )
