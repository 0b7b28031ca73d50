// The wall map's permalink (static/wallmap/permalink.js): #zoom/lat/lon/layers=a,b/base=id.
import assert from "node:assert/strict";
import { test } from "node:test";

import { formatPermalink, parsePermalink } from "../static/wallmap/permalink.js";

test("format: centre to 5 decimals, layers in order, the basemap only when not the default", () => {
  assert.equal(formatPermalink({ zoom: 13, lat: 35.41, lon: 116.59, layers: ["shelters", "labels"], base: null }), "#13/35.41000/116.59000/layers=shelters,labels");
  assert.equal(formatPermalink({ zoom: 9, lat: 35.123456, lon: 116.987654, layers: [], base: "custom-1" }), "#9/35.12346/116.98765/layers=/base=custom-1");
  assert.equal(formatPermalink({ zoom: 3, lat: -33.9, lon: -70.65, layers: ["incidents"] }), "#3/-33.90000/-70.65000/layers=incidents");
});

test("round trips: what is written is read back", () => {
  for (const view of [
    { zoom: 13, lat: 35.41, lon: 116.59, layers: ["rescue_stations", "supply_depots", "shelters"], base: null },
    { zoom: 18, lat: -0.00001, lon: 179.99999, layers: [], base: "tianditu-img" },
    { zoom: 0, lat: 89.5, lon: -180, layers: ["labels", "risk"], base: "custom-2" },
  ]) {
    assert.deepEqual(parsePermalink(formatPermalink(view)), view);
  }
});

test("parse: a hash without layers or base keeps the defaults (null)", () => {
  assert.deepEqual(parsePermalink("#12/35.55/116.78"), { zoom: 12, lat: 35.55, lon: 116.78, layers: null, base: null });
  assert.deepEqual(parsePermalink("12/35.55/116.78"), { zoom: 12, lat: 35.55, lon: 116.78, layers: null, base: null }, "with or without '#'");
});

test("parse: an empty layers= hides every layer; empty names are dropped", () => {
  assert.deepEqual(parsePermalink("#12/35/116/layers=").layers, []);
  assert.deepEqual(parsePermalink("#12/35/116/layers=a,,b,").layers, ["a", "b"]);
});

test("parse: a percent-encoded hash is read as the browser gives it", () => {
  assert.deepEqual(parsePermalink("#13%2F35.41%2F116.59%2Flayers%3Dshelters"), { zoom: 13, lat: 35.41, lon: 116.59, layers: ["shelters"], base: null });
});

test("parse: parts it does not know are ignored", () => {
  assert.deepEqual(parsePermalink("#12/35/116/foo=1/base=local"), { zoom: 12, lat: 35, lon: 116, layers: null, base: "local" });
});

test("parse: no view in the hash → null (the page opens the city)", () => {
  for (const hash of ["", "#", "#12", "#12/35", "#a/b/c", "#12/35/x", "#//", "#12//116", "#12/ /116", "#12/Infinity/116", "#%E0%A4%A", "#12/35/116%"]) {
    assert.equal(parsePermalink(hash), null, JSON.stringify(hash));
  }
});
