// Formatting and colour helpers shared by the wall map and the share page (static/shared/).
import assert from "node:assert/strict";
import { test } from "node:test";

import { bandColour, bandMinutes, isLight, timeBandLegend, TIME_BANDS } from "../static/shared/colours.js";
import { formatCoordinates, formatCount, formatDateTime, formatKm, formatMinutes, formatValue } from "../static/shared/format.js";

test("time bands: a colour per band, grey for any other, minutes as the API wants them", () => {
  assert.deepEqual(TIME_BANDS.map(([minutes]) => minutes), [5, 10, 15], "shortest first");
  assert.equal(bandColour(5), "#1a9850");
  assert.equal(bandColour("10"), "#fee08b", "minutes as JSON object keys are text");
  assert.equal(bandColour(15), "#d73027");
  assert.equal(bandColour(7), "#999");
  assert.equal(bandColour(undefined), "#999");
  assert.equal(bandMinutes(), "5,10,15");
  assert.deepEqual(timeBandLegend(), [["5 分钟", "#1a9850"], ["10 分钟", "#fee08b"], ["15 分钟", "#d73027"]]);
});

test("light colours get dark text", () => {
  assert.equal(isLight("#ffffff"), true);
  assert.equal(isLight("#FFFF00"), true, "the official yellow");
  assert.equal(isLight("#fee08b"), true);
  assert.equal(isLight("#000000"), false);
  assert.equal(isLight("#0000FF"), false, "the official blue");
  assert.equal(isLight("#d7191c"), false);
});

test("travel times to a tenth of a minute, distances to ten metres", () => {
  assert.equal(formatMinutes(7.26), "7.3 分钟");
  assert.equal(formatMinutes(0), "0.0 分钟");
  assert.equal(formatMinutes(12.04), "12.0 分钟");
  assert.equal(formatKm(3.456), "3.46 km");
  assert.equal(formatKm(0.004), "0.00 km");
  assert.throws(() => formatMinutes(null), TypeError, "an unreachable resource has no time: the caller says 不可达");
});

test("counts are whole, grouped by thousands; missing is 0", () => {
  assert.equal(formatCount(12345.6), "12,346");
  assert.equal(formatCount(0.4), "0");
  assert.equal(formatCount(null), "0");
  assert.equal(formatCount(undefined), "0");
});

test("coordinates to 5 decimals, in the order given", () => {
  assert.equal(formatCoordinates(116.59, 35.41), "116.59000, 35.41000");
  assert.equal(formatCoordinates(35.123456, -0.000004), "35.12346, -0.00000");
});

test("popup values by field type; nothing for missing values", () => {
  for (const missing of [null, undefined, ""]) assert.equal(formatValue(missing, "str"), null);
  assert.equal(formatValue(true, "bool"), "是");
  assert.equal(formatValue(false, "bool"), "否");
  assert.equal(formatValue(0, "int"), "0", "zero is a value");
  assert.equal(formatValue(12345.678, "float"), "12,345.68");
  assert.equal(formatValue("<b>名</b>", "str"), "<b>名</b>", "text stays text");
  assert.equal(formatValue("not a date", "datetime"), "not a date");
});

test("times in the viewer's zone, 24-hour clock", () => {
  const zone = process.env.TZ;
  process.env.TZ = "Asia/Shanghai";
  try {
    assert.equal(formatDateTime("2024-07-01T08:00:00Z"), "2024/7/1 16:00:00");
    assert.equal(formatValue("2024-07-01T20:30:05Z", "datetime"), "2024/7/2 04:30:05");
  } finally {
    if (zone === undefined) delete process.env.TZ; else process.env.TZ = zone;
  }
});
