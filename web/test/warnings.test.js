// The alert panel's order, the pulsing stations, the chart's lines and the strip of figures
// (static/wallmap/alerts.js, chart.js, figures.js: their pure helpers).
import assert from "node:assert/strict";
import { test } from "node:test";

import { alertingStations, beijingTime, newAlerts, sortAlerts } from "../static/wallmap/alerts.js";
import { chartData, thresholdLines, valueRange } from "../static/wallmap/chart.js";
import { figureItems } from "../static/wallmap/figures.js";

const alerts = [
  { id: "a", station: "S1", level: "黄", status: "已发布", raised_at: "2026-07-20T01:00:00+00:00" },
  { id: "b", station: "S2", level: "红", status: "已确认", raised_at: "2026-07-20T00:00:00+00:00" },
  { id: "c", station: "S1", level: "橙", status: "已发布", raised_at: "2026-07-20T00:30:00+00:00" },
  { id: "d", station: "S3", level: "红", status: "已解除", raised_at: "2026-07-20T03:00:00+00:00" },
  { id: "e", station: "S4", level: "黄", status: "已发布", raised_at: "2026-07-20T02:00:00+00:00" },
];

test("alerts gravest first, newest first within a colour, resolved last", () => {
  assert.deepEqual(sortAlerts(alerts).map((a) => a.id), ["b", "c", "e", "a", "d"]);
  assert.deepEqual(alerts.map((a) => a.id), ["a", "b", "c", "d", "e"], "the input is not reordered");
});

test("a station pulses in the gravest colour of its unresolved alerts", () => {
  assert.deepEqual([...alertingStations(alerts)].sort(), [["S1", "橙"], ["S2", "红"], ["S4", "黄"]]);
});

test("new alerts are the unresolved ones not seen before; none on the first load", () => {
  assert.deepEqual(newAlerts(null, alerts), []);
  assert.deepEqual(newAlerts(new Set(["a", "b", "c"]), alerts).map((a) => a.id), ["e"]);
});

test("times in Beijing time", () => {
  assert.equal(beijingTime("2026-07-20T16:05:00+00:00"), "07-21 00:05");
  assert.equal(beijingTime("2026-01-02T03:04:00Z"), "01-02 11:04");
});

test("threshold lines in rising order, only those the station has", () => {
  const lines = thresholdLines({ design_flood_level_m: 40, flood_limit_level_m: 36.5 });
  assert.deepEqual(lines.map((l) => [l.label, l.value]), [["汛限水位", 36.5], ["设计洪水位", 40]]);
  assert.deepEqual(thresholdLines({}), []);
  assert.deepEqual(thresholdLines(undefined), []);
});

test("chart data in seconds, and a y range that shows every threshold line", () => {
  assert.deepEqual(chartData([{ time: "1970-01-01T00:05:00+00:00", value: 1.5 }]), [[300], [1.5]]);
  const [low, high] = valueRange([35, 35.5], [{ value: 40 }], false);
  assert.ok(low < 35 && high > 40);
  assert.equal(valueRange([3, 8], [], true)[0], 0, "rain from 0");
  assert.deepEqual(valueRange([], [], false), [0, 1]);
});

test("the strip: alerts by colour gravest first, units, a dash for a figure not computed", () => {
  const items = figureItems({ alerts: { 蓝: 1, 黄: 2, 橙: 3, 红: 0 }, open_incidents: 4, reservoirs_above_flood_limit: 5, residents_in_grave_risk: null,
    shelter_coverage_pct: 87.25, stations: 145, stations_offline: 2, dead_letters_24h: 1234 });
  const byKey = Object.fromEntries(items.map((i) => [i.key, i.value]));
  assert.deepEqual(items.slice(0, 4).map((i) => i.level), ["红", "橙", "黄", "蓝"]);
  assert.equal(byKey["alerts-橙"], "3 条");
  assert.equal(byKey.open_incidents, "4 起");
  assert.equal(byKey.reservoirs_above_flood_limit, "5 座");
  assert.equal(byKey.residents_in_grave_risk, "—");
  assert.equal(byKey.shelter_coverage_pct, "87.3 %");
  assert.equal(byKey.stations_offline, "2 / 145 个");
  assert.equal(byKey.dead_letters_24h, "1,234 条");
  assert.equal(figureItems({ residents_in_grave_risk: 123456 }).find((i) => i.key === "residents_in_grave_risk").value, "12.3 万人");
});
