"""The risk model on a tiny hand-made grid, every expected value computed here independently, and its
invariants as property tests: adding a hazard never lowers a score, no residents means the lowest
level, scaling every weight changes no level."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import gis.risk as risk

EPSG = 4548


def test_grid_covers_bounds_aligned_to_the_resolution() -> None:
    grid = risk.RiskGrid.covering((1050.0, 2020.0, 1390.0, 2260.0), 100.0, EPSG)
    assert (grid.west, grid.north, grid.width, grid.height) == (1000.0, 2300.0, 4, 3)
    row, col, inside = grid.cell_of(np.array([[1050.0, 2290.0], [1399.0, 2001.0], [999.0, 2100.0]]))
    assert row.tolist()[:2] == [0, 2] and col.tolist()[:2] == [0, 3] and inside.tolist() == [True, True, False]


def test_hand_made_grid_scores_and_levels() -> None:
    # A 1 × 5 strip of 100 m cells; a reservoir-like source (intensity 0.8, linear decay over 250 m)
    # in cell 0; people in cells 0, 1, 2, 4; travel minutes 10, 20, 40, 5, 60 (reference 30 min).
    grid = risk.RiskGrid(EPSG, 100.0, 0.0, 100.0, 5, 1)
    hazard = risk.point_surface(grid, np.array([[50.0, 50.0]]), np.array([0.8]), {"kind": "linear", "radius_m": 250.0})
    expected_h = [0.8 * max(0.0, 1 - d / 250) for d in (0, 100, 200, 300, 400)]
    assert hazard[0] == pytest.approx(expected_h)
    persons = np.array([[99.0, 9.0, 999.0, 0.0, 99.0]])
    e = risk.exposure(persons, 999.0)
    expected_e = [min(1.0, math.log(1 + p) / math.log(1000.0)) for p in persons[0]]
    assert e[0] == pytest.approx(expected_e, rel=1e-6)
    c = risk.lack_of_capacity(np.array([[10.0, 20.0, 40.0, 5.0, np.inf]]), 30.0)
    expected_c = [1 / 3, 2 / 3, 1.0, 1 / 6, 1.0]
    assert c[0] == pytest.approx(expected_c, rel=1e-6)
    score, parts = risk.combine({"reservoirs": hazard}, {"reservoirs": 3.0, "capacity": 1.0}, e, c)
    expected = [expected_e[i] * (3 * expected_h[i] + 1 * expected_c[i]) / 4 for i in range(5)]
    assert score[0] == pytest.approx(expected, rel=1e-6)
    assert (parts["reservoirs"] + parts["capacity"])[0] == pytest.approx(score[0], rel=1e-6)
    levels = risk.classify(score, (0.1, 0.2, 0.35))
    assert levels[0].tolist() == [4 if s > 0.35 else 3 if s > 0.2 else 2 if s > 0.1 else 1 for s in expected]
    assert levels[0, 3] == 1, "no residents: 低"


def test_decays() -> None:
    d = np.array([0.0, 500.0, 1500.0, 2500.0, 6000.0])
    assert risk.decay(d, {"kind": "bands", "bands": [[1000, 1.0], [2000, 0.6], [5000, 0.3]]}).tolist() == [1.0, 1.0, 0.6, 0.3, 0.0]
    assert risk.decay(d, {"kind": "exp", "scale_m": 1000.0, "max_m": 5000.0}) == pytest.approx([1, math.exp(-0.5), math.exp(-1.5), math.exp(-2.5), 0])
    with pytest.raises(risk.RiskInputError, match="unknown decay kind 'cubic'"):
        risk.decay(d, {"kind": "cubic"})


def test_nearest_source_wins_per_class_and_strongest_overall() -> None:
    grid = risk.RiskGrid(EPSG, 100.0, 0.0, 100.0, 10, 1)
    surface = risk.point_surface(grid, np.array([[50.0, 50.0], [950.0, 50.0]]), np.array([1.0, 0.5]), {"kind": "linear", "radius_m": 1000.0})
    expected = [max(1.0 * (1 - 100 * i / 1000), 0.5 * (1 - 100 * (9 - i) / 1000)) for i in range(10)]
    assert surface[0] == pytest.approx(expected, rel=1e-6)


def test_bad_weights_are_refused() -> None:
    h = {"reservoirs": np.ones((1, 2), np.float32)}
    e = np.ones((1, 2), np.float32)
    with pytest.raises(risk.RiskInputError, match="unknown factors \\['volcanoes'\\]"):
        risk.combine(h, {"volcanoes": 1.0}, e, None)
    with pytest.raises(risk.RiskInputError, match="0 or more"):
        risk.combine(h, {"reservoirs": -1.0}, e, None)
    with pytest.raises(risk.RiskInputError, match="every weight is 0"):
        risk.combine(h, {"reservoirs": 0.0}, e, None)


def test_level_breaks() -> None:
    score = np.concatenate([np.zeros(50), np.full(30, 0.05), np.full(30, 0.3), np.full(30, 0.6), np.full(30, 0.9)]).astype(np.float32)
    natural = risk.level_breaks(score, "natural")
    assert risk.classify(score, natural)[50:].reshape(4, 30)[:, 0].tolist() == [1, 2, 3, 4]
    assert risk.level_breaks(score, "fixed", (0.1, 0.2, 0.3)) == (0.1, 0.2, 0.3)
    with pytest.raises(risk.RiskInputError, match="three increasing"):
        risk.level_breaks(score, "fixed", (0.3, 0.2, 0.1))
    assert risk.classify(np.zeros(3, np.float32), risk.level_breaks(np.zeros(3, np.float32), "natural")).tolist() == [1, 1, 1]


surfaces = arrays(np.float32, (4, 5), elements=st.floats(0, 1, width=32))
people = arrays(np.float64, (4, 5), elements=st.floats(0, 5000))


@settings(max_examples=80, deadline=None)
@given(surfaces, surfaces, people, st.floats(0.01, 10), st.floats(0, 10), st.floats(0.01, 100))
def test_adding_a_hazard_never_lowers_a_score(first: np.ndarray, extra: np.ndarray, persons: np.ndarray, w1: float, w2: float, scale: float) -> None:
    e = risk.exposure(persons, 1000.0)
    weights = {"a": w1, "b": w2}
    before, _ = risk.combine({"a": first, "b": np.zeros_like(first)}, weights, e, None)
    after, _ = risk.combine({"a": first, "b": extra}, weights, e, None)
    assert (after >= before - 1e-7).all()
    # No residents, no risk: the lowest level whatever the hazard.
    nobody, _ = risk.combine({"a": first, "b": extra}, weights, risk.exposure(np.zeros_like(persons), 1000.0), None)
    assert (risk.classify(nobody, risk.level_breaks(after, "natural")) == 1).all()
    # Scaling every weight changes no score beyond rounding, and so no level.
    scaled, _ = risk.combine({"a": first, "b": extra}, {"a": w1 * scale, "b": w2 * scale}, e, None)
    assert scaled == pytest.approx(after, abs=1e-6)
    upper = (0.1, 0.2, 0.35)
    away = np.min(np.abs(after[..., None] - np.array(upper)), axis=-1) > 1e-5  # not on a break
    assert (risk.classify(scaled, upper)[away] == risk.classify(after, upper)[away]).all()


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from([{"kind": "linear", "radius_m": 450.0}, {"kind": "exp", "scale_m": 300.0, "max_m": 900.0}, {"kind": "bands", "bands": [[200, 1.0], [600, 0.5]]}]))
def test_stamped_surfaces_equal_a_full_distance_transform(seed: int, decay_spec: dict[str, object]) -> None:
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    grid = risk.RiskGrid(EPSG, 100.0, 0.0, 3000.0, 40, 30)
    xy = rng.uniform([0, 0], [4000, 3000], (7, 2))
    intensity = rng.choice([0.4, 0.7, 1.0], 7)
    stamped = risk.point_surface(grid, xy, intensity, decay_spec)
    reference = np.zeros(grid.shape)
    row, col, _ = grid.cell_of(xy)
    for level in np.unique(intensity):
        mask = np.ones(grid.shape, bool)
        mask[row[intensity == level], col[intensity == level]] = False
        reference = np.maximum(reference, level * risk.decay(ndimage.distance_transform_edt(mask, sampling=100.0), decay_spec))
    assert stamped == pytest.approx(reference, abs=1e-6)
    distance = risk.point_distance(grid, xy, 900.0)
    full = ndimage.distance_transform_edt(np.where(np.isin(np.arange(grid.width * grid.height).reshape(grid.shape), row * grid.width + col), False, True), sampling=100.0)
    assert np.where(full <= 900.0, full, np.inf) == pytest.approx(distance, abs=1e-3)


def test_a_source_just_off_the_grid_still_reaches_in() -> None:
    grid = risk.RiskGrid(EPSG, 100.0, 0.0, 100.0, 3, 1)
    surface = risk.point_surface(grid, np.array([[-50.0, 50.0]]), np.array([1.0]), {"kind": "linear", "radius_m": 250.0})
    assert surface[0] == pytest.approx([1 - 100 / 250, 1 - 200 / 250, 0.0])
