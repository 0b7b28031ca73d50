// GCJ-02 in the browser (static/shared/gcj02.js) against known answers of a published reference
// implementation: wandergis/coordtransform (test/app.js, the widely copied JS version), the same
// pairs as tests/gis/test_crs.py uses for gis/crs.py.
import assert from "node:assert/strict";
import { test } from "node:test";

import { gcjToWgs, wgsToGcj } from "../static/shared/gcj02.js";

/** Metres between two lon/lat points a few metres apart (a local flat approximation). */
function metresApart([lon1, lat1], [lon2, lat2]) {
  const perDegree = 111_320;
  const dx = (lon1 - lon2) * perDegree * Math.cos((lat1 * Math.PI) / 180);
  const dy = (lat1 - lat2) * perDegree;
  return Math.hypot(dx, dy);
}

test("WGS 84 → GCJ-02 agrees with coordtransform to the last digit", () => {
  const [lon, lat] = wgsToGcj(116.404, 39.915);
  assert.ok(Math.abs(lon - 116.41024449916938) < 1e-12, String(lon));
  assert.ok(Math.abs(lat - 39.91640428150164) < 1e-12, String(lat));
});

test("GCJ-02 → WGS 84 is within 10 cm of coordtransform's one-step inverse", () => {
  // coordtransform's inverse is a one-step approximation (a few centimetres off); ours iterates.
  const ours = gcjToWgs(116.404, 39.915);
  assert.ok(metresApart(ours, [116.39775550083061, 39.91359571849836]) < 0.1);
});

test("the inverse is exact: there and back again to 1e-9 degrees", () => {
  for (const [lon, lat] of [[116.404, 39.915], [116.59, 35.41], [121.47, 31.23], [87.6, 43.8], [113.26, 23.13]]) {
    const [wlon, wlat] = gcjToWgs(...wgsToGcj(lon, lat));
    assert.ok(Math.abs(wlon - lon) < 1e-9 && Math.abs(wlat - lat) < 1e-9, `${lon},${lat}`);
  }
});

test("the offset is hundreds of metres, as on Gaode's tiles", () => {
  const metres = metresApart(wgsToGcj(116.59, 35.41), [116.59, 35.41]);
  assert.ok(metres > 100 && metres < 1000, String(metres));
});
