/* A station's last 24 hours in its popup (onemap's own code): GET /stations/{id}/observations drawn
 * with uPlot (npm, the global `uPlot`) — water levels as a line with the station's characteristic
 * levels as labelled horizontal lines (汛限/警戒/保证/设计), rain as a bar per 5-minute report — on
 * Beijing time. The threshold labels are also written under the chart as text. Methods of WallMap
 * (app.js); the pure helpers are exported for web/test. */

import { el } from "../shared/dom.js";

/** The characteristic levels a chart draws, in the order they rise, with their labels and colours. */
export const THRESHOLDS = [
  ["flood_limit_level_m", "汛限水位", "#e6a700"],
  ["warning_level_m", "警戒水位", "#ff7f00"],
  ["guaranteed_level_m", "保证水位", "#e31a1c"],
  ["design_flood_level_m", "设计洪水位", "#7a0177"],
];

/** The lines of a station's `thresholds` (those it has): [{key, label, value, colour}]. */
export function thresholdLines(thresholds) {
  return THRESHOLDS.filter(([key]) => typeof (thresholds || {})[key] === "number")
    .map(([key, label, colour]) => ({ key, label, value: thresholds[key], colour }));
}

/** The chart's data: times in seconds since 1970 and the values, as uPlot takes them. */
export function chartData(readings) {
  return [readings.map((r) => Date.parse(r.time) / 1000), readings.map((r) => r.value)];
}

/** The y range: rain from 0; levels round the readings and every threshold line, padded. */
export function valueRange(values, lines, rain) {
  const all = [...values, ...lines.map((l) => l.value)].filter((v) => Number.isFinite(v));
  if (!all.length) return [0, 1];
  const top = Math.max(...all), bottom = rain ? 0 : Math.min(...all);
  const pad = Math.max((top - bottom) * 0.08, rain ? 1 : 0.2);
  return [rain ? 0 : bottom - pad, top + pad];
}

function drawLines(u, lines, unit) {
  const { ctx } = u;
  const ratio = window.devicePixelRatio || 1;
  ctx.save();
  ctx.font = `${Math.round(12 * ratio)}px sans-serif`;
  ctx.lineWidth = 1.5 * ratio;
  ctx.setLineDash([6 * ratio, 4 * ratio]);
  for (const line of lines) {
    const y = u.valToPos(line.value, "y", true);
    ctx.strokeStyle = line.colour;
    ctx.fillStyle = line.colour;
    ctx.beginPath();
    ctx.moveTo(u.bbox.left, y);
    ctx.lineTo(u.bbox.left + u.bbox.width, y);
    ctx.stroke();
    ctx.fillText(`${line.label} ${line.value.toFixed(2)} ${unit}`, u.bbox.left + 4 * ratio, y - 3 * ratio);
  }
  ctx.restore();
}

export const chartMethods = {
  /** The chart box of station `id`, filled when its readings arrive. */
  stationChart(id) {
    const box = el("div", { class: "om-chart", "data-station": id }, [el("div", { class: "om-chart-note", text: "近 24 小时数据加载中…" })]);
    this._drawChart(id, box);
    return box;
  },

  async _drawChart(id, box) {
    let body;
    try {
      body = await this.fetchJSON(`/stations/${encodeURIComponent(id)}/observations?hours=24`);
    } catch (error) {
      box.replaceChildren(el("div", { class: "om-chart-note", text: `监测数据不可用：${error.message}` }));
      return;
    }
    const rain = body.kind === "雨量";
    const lines = rain ? [] : thresholdLines(body.thresholds);
    const [times, values] = chartData(body.readings);
    const title = el("div", { class: "om-chart-title", text: `近 ${body.hours} 小时${rain ? "雨量（每 5 分钟）" : "水位"} · ${body.unit} · 北京时间` });
    const plot = el("div", { class: "om-chart-plot" });
    const legend = el("ul", { class: "om-thresholds" }, lines.map((l) =>
      el("li", { "data-threshold": l.key }, [el("span", { class: "om-swatch", style: `background:${l.colour}` }), document.createTextNode(`${l.label} ${l.value.toFixed(2)} ${body.unit}`)])));
    box.replaceChildren(title, plot, legend);
    box.dataset.drawn = String(Number(box.dataset.drawn || 0) + 1); // how many times: a new reading draws it again
    if (!times.length) { plot.append(el("div", { class: "om-chart-note", text: "近 24 小时无数据" })); return; }
    const wide = this.config.wall ? 600 : 420;
    const series = rain
      ? { label: "雨量", stroke: "#1b7837", fill: "rgba(27, 120, 55, 0.6)", paths: uPlot.paths.bars({ size: [0.9, 12] }), points: { show: false } }
      : { label: "水位", stroke: "#2166ac", width: 2, points: { show: false } };
    this.chart = new uPlot({
      width: wide, height: Math.round(wide * 0.55),
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Asia/Shanghai"),
      legend: { show: false },
      scales: { x: { time: true }, y: { range: () => valueRange(values, lines, rain) } },
      axes: [{ stroke: "#333" }, { stroke: "#333", label: body.unit }],
      series: [{}, series],
      hooks: { draw: [(u) => drawLines(u, lines, body.unit)] },
    }, [times, values], plot);
  },
};
