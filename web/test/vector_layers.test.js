// The wall map's vector-tile layers (static/wallmap/vector_layers.js): tile URLs, styles by class,
// population densities of stored and aggregated cells, hover texts.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  classOf, densityOpacity, featureKey, metresPerPixel, pathStyle, popupId, populationDensity, tileUrl, tipText, widthAt,
} from "../static/wallmap/vector_layers.js";

const RISK = {
  id: "risk_zones", title: "风险分区", geometry: "MultiPolygon", style: { color: "#FF0000", fill_color: "#FF0000" },
  tile_classes: { by: "level", classes: [["重大", "#FF0000", 1], ["较大", "#FF7F00", 1], ["一般", "#FFFF00", 1], ["低", "#0000FF", 1]] },
  tip: [["level", "风险等级", null, "str"], ["area_km2", "面积", "km²", "float"]],
};
const ROADS = {
  id: "roads", title: "道路", geometry: "LineString", style: { color: "#999999" },
  tile_classes: { by: "road_class", classes: [["高速公路", "#e8772e", 3.2], ["村道", "#d6d6d6", 1.2]] },
  tip: [["road_class", "道路等级", null, "str"], ["speed_kmh", "设计速度", "km/h", "float"]],
};
const FLOOD = {
  id: "flood_prone_areas", title: "山洪及易涝区", geometry: "MultiPolygon",
  style: { color: "#0868ac", fill_color: "#7bccc4", color_by: "kind", class_colors: [["易涝区", "#2c7fb8"]] },
  tile_classes: { by: "kind", classes: [["易涝区", "#2c7fb8", 2]] },
  tip: [["kind", "类型", null, "str"], ["threatened_people", "威胁人数", "人", "int"]],
};
const POPULATION = {
  id: "population", title: "人口网格", geometry: "Polygon", style: { color: "#fdae6b", fill_color: "#e6550d" }, tile_classes: null,
  tip: [["persons", "人口", "人", "float"], ["cell_size_m", "网格边长", "m", "float"]],
};

test("the tile URL: the OGC API - Tiles path, z/y/x, the layer encoded; a share link's prefix", () => {
  assert.equal(tileUrl("roads"), "/collections/roads/tiles/WebMercatorQuad/{z}/{y}/{x}");
  assert.equal(tileUrl("a b/c"), "/collections/a%20b%2Fc/tiles/WebMercatorQuad/{z}/{y}/{x}");
  assert.equal(tileUrl("shelters", { prefix: "/s/abc" }), "/s/abc/collections/shelters/tiles/WebMercatorQuad/{z}/{y}/{x}");
});

test("risk levels in their official colours (红橙黄蓝); an unknown level falls back to the layer's colour", () => {
  const colours = ["重大", "较大", "一般", "低"].map((level) => pathStyle(RISK, { level }, 12, 35).fillColor);
  assert.deepEqual(colours, ["#FF0000", "#FF7F00", "#FFFF00", "#0000FF"]);
  assert.equal(classOf(RISK, { level: "未知" }).colour, "#FF0000");
  assert.equal(pathStyle(RISK, { level: "低" }, 12, 35).className, "om-p-risk_zones");
});

test("roads: colour and width by class, wider in, never filled; flood areas by kind, filled", () => {
  const motorway = pathStyle(ROADS, { road_class: "高速公路" }, 12, 35);
  assert.equal(motorway.color, "#e8772e");
  assert.equal(motorway.weight, 3.2);
  assert.equal(motorway.fill, false);
  assert.ok(pathStyle(ROADS, { road_class: "高速公路" }, 16, 35).weight > motorway.weight);
  assert.ok(pathStyle(ROADS, { road_class: "村道" }, 12, 35).weight < motorway.weight);
  assert.equal(pathStyle(ROADS, { road_class: "?" }, 12, 35).color, "#999999");
  assert.equal(widthAt(2, 40), 4, "at most twice");
  const flood = pathStyle(FLOOD, { kind: "易涝区" }, 12, 35);
  assert.equal(flood.color, "#2c7fb8");
  assert.equal(flood.fill, true);
  assert.equal(flood.className, "om-p-flood_prone_areas");
});

test("population: a stored cell's density from its size, an aggregated cell's from 8 px at its zoom", () => {
  assert.equal(populationDensity({ persons: 500, cell_size_m: 500 }, 14, 35), 2000);
  const side = 8 * metresPerPixel(9, 35.4);
  assert.ok(Math.abs(side - 8 * 305.75 * Math.cos((35.4 * Math.PI) / 180)) < 1);
  assert.ok(Math.abs(populationDensity({ count: 20, persons: 1e5 }, 9, 35.4) - 1e5 / ((side * side) / 1e6)) < 1e-6);
  assert.equal(densityOpacity(10), 0.1);
  assert.equal(densityOpacity(10_000), 0.7);
  const sparse = pathStyle(POPULATION, { persons: 10, cell_size_m: 500 }, 12, 35).fillOpacity;
  const dense = pathStyle(POPULATION, { persons: 2000, cell_size_m: 500 }, 12, 35).fillOpacity;
  assert.ok(dense > sparse);
  assert.equal(pathStyle(POPULATION, { persons: 1 }, 12, 35).fillColor, "#e6550d");
});

test("hover texts: the name, then the tip fields with units; aggregated cells say what they sum", () => {
  assert.equal(tipText(ROADS, { name: "解放路", road_class: "城市道路", speed_kmh: 40 }), "解放路 · 道路等级 城市道路 · 设计速度 40 km/h");
  assert.equal(tipText(ROADS, { road_class: "村道" }), "道路 · 道路等级 村道", "an unnamed road: the layer's title, no empty fields");
  assert.equal(tipText(ROADS, { name: "京台高速", road_class: "高速公路", merged: 1234 }), "京台高速 · 道路等级 高速公路 · 1,234 段合并显示", "a merged line (below z8) says how many edges");
  assert.equal(tipText(FLOOD, { name: "<img src=x onerror=alert(1)>", kind: "易涝区", threatened_people: 1234 }), "<img src=x onerror=alert(1)> · 类型 易涝区 · 威胁人数 1,234 人",
    "plain text: the page puts it in a text node");
  assert.equal(tipText(POPULATION, { count: 36, persons: 12345.6 }), "人口网格：人口 12,346 人，36 个要素合计");
  assert.equal(tipText(RISK, { level: "重大", area_km2: 3.14159 }), "风险分区 · 风险等级 重大 · 面积 3.14 km²");
});

test("feature keys: the source id; an aggregated cell its own", () => {
  assert.equal(featureKey({ source_id: "R-1" }, 7), "R-1");
  assert.equal(featureKey({ count: 3 }, 7), "cell:7");
  assert.equal(featureKey({ road_class: "高速公路", merged: 12 }, 8), "cell:8", "a merged line is its own");
});

test("a popup names a feature by its id, a cell by its count, a merged line by its edges", () => {
  assert.equal(popupId({ source_id: 42 }), "42");
  assert.equal(popupId({ count: 1234, persons: 5 }), "1,234 个要素合计");
  assert.equal(popupId({ road_class: "高速公路", merged: 7 }), "7 段合并显示");
});
