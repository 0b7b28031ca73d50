"""AHP weights and consistency: Saaty's own example, exactly consistent matrices recovered for any
weights (property test), and inconsistent or malformed matrices refused with the entry named."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gis.risk import AhpError, ahp_weights, require_consistent

FACTORS = ("水库", "地灾", "化工", "内涝")


def test_saaty_three_by_three() -> None:
    # A classic textbook matrix: weights ≈ 0.648, 0.230, 0.122; λmax ≈ 3.004; CR ≈ 0.003.
    result = ahp_weights([[1, 3, 5], [1 / 3, 1, 2], [1 / 5, 1 / 2, 1]], ("a", "b", "c"))
    assert result.weights == pytest.approx([0.648, 0.230, 0.122], abs=1e-3)
    assert result.lambda_max == pytest.approx(3.004, abs=1e-3)
    assert result.consistency_ratio == pytest.approx(0.0033, abs=5e-4)
    assert require_consistent(result) is result


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=1.0, max_value=3.0), min_size=4, max_size=4))
def test_consistent_matrices_give_back_their_weights(raw: list[float]) -> None:
    weights = np.array(raw) / sum(raw)
    matrix = weights[:, None] / weights[None, :]  # a_ij = w_i / w_j: perfectly consistent, within 1/9 … 9
    result = ahp_weights(matrix, FACTORS)
    assert result.weights == pytest.approx(weights, rel=1e-9)
    assert result.consistency_ratio == pytest.approx(0.0, abs=1e-9)


def test_an_inconsistent_matrix_is_refused_naming_the_conflict() -> None:
    # Consistent weights 4 : 2 : 1 : 1, except 化工 vs 内涝 said 9 (the rest implies 1).
    w = np.array([4.0, 2.0, 1.0, 1.0])
    matrix = w[:, None] / w[None, :]
    matrix[2, 3], matrix[3, 2] = 9.0, 1 / 9
    result = ahp_weights(matrix, FACTORS)
    assert result.consistency_ratio >= 0.1
    assert result.worst_pair == ("化工", "内涝")
    with pytest.raises(AhpError, match=r"CR = 0\.\d+ .*conflict most on 化工 vs 内涝: you gave 9"):
        require_consistent(result)


@pytest.mark.parametrize(
    ("matrix", "words"),
    [
        ([[1, 2], [0.5, 1], [1, 1]], "must be 4 × 4"),
        ([[1, 2, 1, 1], [0.5, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, -1]], "内涝 vs 内涝 is -1;"),
        ([[1, 2, 1, 1], [2, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1]], "水库 vs 地灾 (2) and 地灾 vs 水库 (2) must be reciprocals"),
        ([[1, 12, 1, 1], [1 / 12, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1]], "1/9 to 9"),
        ([[2, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1]], "水库 vs itself must be 1"),
        ([["a", 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1]], "rows of numbers"),
    ],
)
def test_malformed_matrices_are_refused(matrix: list[list[object]], words: str) -> None:
    with pytest.raises(AhpError, match=words.replace("(", r"\(").replace(")", r"\)")):
        ahp_weights(matrix, FACTORS)  # type: ignore[arg-type]


def test_rounded_reciprocals_are_accepted() -> None:
    result = ahp_weights([[1, 3, 1], [0.33, 1, 0.33], [1, 3, 1]], ("a", "b", "c"))
    assert result.consistent and result.weights[0] == pytest.approx(result.weights[2])
