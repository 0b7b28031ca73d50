// The plume tool's wind arithmetic (static/wallmap/wind.js): bearings, wind FROM vs the arrow,
// the Chinese compass, the arrow's head.
import assert from "node:assert/strict";
import { test } from "node:test";

import { arrowFromWind, arrowHead, bearingDeg, compassName, COMPASS_16, describeWind, destination, normaliseDeg, windFromArrow } from "../static/wallmap/wind.js";

const close = (actual, expected, tolerance, message) => assert.ok(Math.abs(actual - expected) <= tolerance, `${message}: ${actual} vs ${expected} ± ${tolerance}`);
/** The smallest difference between two directions, degrees. */
const angleGap = (a, b) => Math.abs(((a - b + 540) % 360) - 180);

test("bearings match the WGS 84 geodesic within 0.5°", () => {
  // Reference azimuths: pyproj.Geod(ellps="WGS84").inv(lon1, lat1, lon2, lat2)
  const cases = [
    [[116.59, 35.41, 116.4074, 39.9042], 358.205, "济宁 → 北京, across north (wraps below 360)"],
    [[116.736, 35.496, 116.59, 35.41], 234.293, "兖州化工园区 → 济宁城区, 16 km south-west"],
    [[116.59, 35.41, 121.47, 31.23], 134.209, "济宁 → 上海, 650 km south-east"],
  ];
  for (const [[lon1, lat1, lon2, lat2], geodesic, what] of cases) {
    assert.ok(angleGap(bearingDeg(lon1, lat1, lon2, lat2), geodesic) <= 0.5, `${what}: ${bearingDeg(lon1, lat1, lon2, lat2)} vs ${geodesic}`);
  }
  assert.equal(bearingDeg(116.59, 35.41, 116.59, 36), 0, "due north is 0, not 360");
  close(bearingDeg(116.59, 35.41, 116.6, 35.41), 90, 0.01, "due east (a great circle leaves a parallel heading a little poleward)");
  close(bearingDeg(116.59, 35.41, 116.59, 35), 180, 1e-9, "due south");
  close(bearingDeg(116.59, 35.41, 116.5, 35.41), 270, 0.03, "due west");
});

test("a point sent along a bearing comes back on it", () => {
  for (const bearing of [0, 45, 135, 225, 300, 359.5]) {
    const [lon, lat] = destination(116.736, 35.496, bearing, 5000);
    assert.ok(angleGap(bearingDeg(116.736, 35.496, lon, lat), bearing) < 1e-6, `bearing ${bearing}`);
    close(Math.hypot((lon - 116.736) * Math.cos(35.5 * Math.PI / 180), lat - 35.496) * 111195, 5000, 20, "5 km away");
  }
  assert.deepEqual(destination(116, 35, 90, 0), [116, 35]);
  close(destination(179.99, 0, 90, 5000)[0], -179.965, 1e-3, "across the antimeridian (5 km ≈ 0.045° at the equator)");
});

test("an arrow pointing south-west is a wind from the north-east: 东北风 45°", () => {
  assert.equal(windFromArrow(225), 45);
  assert.equal(compassName(45), "东北");
  assert.deepEqual(describeWind(225), { windFrom: 45, windName: "东北风", towards: "西南", text: "风向 东北风 45°，烟羽向西南" });
  const drawn = bearingDeg(116.736, 35.496, 116.59, 35.41); // the arrow of the browser test, about 234°
  assert.equal(describeWind(drawn).windName, "东北风");
  assert.equal(describeWind(0).text, "风向 南风 180°，烟羽向北");
  assert.equal(describeWind(90).text, "风向 西风 270°，烟羽向东");
});

test("wind directions wrap at 0/360", () => {
  assert.equal(windFromArrow(180), 0, "an arrow due south: a wind from the north, 0 not 360");
  assert.equal(windFromArrow(179.6), 359.6);
  assert.equal(windFromArrow(540), 0);
  assert.equal(windFromArrow(-90), 90);
  assert.equal(describeWind(179.6).windFrom, 0, "359.6 rounds to 0°, never 360°");
  assert.equal(describeWind(179.6).windName, "北风");
  assert.equal(describeWind(180.4).windFrom, 0);
  assert.equal(arrowFromWind(0), 180);
  assert.equal(arrowFromWind(360), 180);
  assert.equal(arrowFromWind(windFromArrow(12.5)), 12.5, "the inverse");
  assert.equal(normaliseDeg(-0), 0);
  assert.ok(Object.is(normaliseDeg(-360), 0), "no -0");
  assert.equal(normaliseDeg(720.5), 0.5);
});

test("the 16-point compass: each point covers 22.5°, centred on its direction", () => {
  assert.equal(COMPASS_16.length, 16);
  COMPASS_16.forEach((name, index) => assert.equal(compassName(index * 22.5), name));
  assert.equal(compassName(11.24), "北");
  assert.equal(compassName(11.26), "东北偏北");
  assert.equal(compassName(348.76), "北", "just west of north");
  assert.equal(compassName(348.74), "西北偏北");
  assert.equal(compassName(-45), "西北");
  assert.equal(compassName(360), "北");
  assert.deepEqual([90, 180, 270].map(compassName), ["东", "南", "西"]);
  assert.deepEqual([67.5, 202.5].map(compassName), ["东北偏东", "西南偏南"]);
});

test("the arrow's head: a triangle at the tip, pointing along the shaft", () => {
  // a shaft to the right (east on a north-up screen): barbs behind the tip, above and below
  assert.deepEqual(arrowHead([0, 0], [100, 0], { length: 20, halfWidth: 10 }), [[80, -10], [100, 0], [80, 10]]);
  // down (south): barbs above the tip, symmetric about the shaft
  const [left, tip, right] = arrowHead([50, 50], [50, 150]);
  assert.deepEqual(tip, [50, 150]);
  assert.equal(left[1], right[1]);
  assert.equal(left[1], 150 - 22);
  assert.equal(left[0] + right[0], 100);
  // south-west: the barbs are equally far from the tip
  const [l, t, r] = arrowHead([100, 0], [0, 100], { length: 30, halfWidth: 12 });
  close(Math.hypot(l[0] - t[0], l[1] - t[1]), Math.hypot(r[0] - t[0], r[1] - t[1]), 1e-9, "symmetric");
  close(Math.hypot(l[0] - t[0], l[1] - t[1]), Math.hypot(30, 12), 1e-9, "barb length");
  assert.equal(arrowHead([5, 5], [5, 5]), null, "no direction, no head");
});
