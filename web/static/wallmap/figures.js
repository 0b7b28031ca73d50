/* The strip of key figures along the wall (onemap's own code), from GET /map/figures: active
 * alerts by colour, open incidents, reservoirs above 汛限水位, residents in 重大/较大 risk, shelter
 * coverage, stations offline, dead letters of the last 24 h; "—" for a figure not computed yet.
 * Refreshed on every change event and every 30 s. Methods of WallMap (app.js); `figureItems` is
 * pure, for web/test. */

import { el } from "../shared/dom.js";
import { NUMBER } from "../shared/format.js";
import { LEVELS } from "./alerts.js";

export const FIGURES_MS = 30_000;
const NONE = "—";

function count(value, unit) {
  return value === null || value === undefined ? NONE : `${NUMBER.format(value)} ${unit}`;
}

/** The strip's items [{key, label, value, level?}] from /map/figures, the gravest colour first. */
export function figureItems(f) {
  const people = f.residents_in_grave_risk;
  const items = [...LEVELS].reverse().map((level) => ({ key: `alerts-${level}`, label: `${level}色预警`, value: count((f.alerts || {})[level], "条"), level }));
  items.push(
    { key: "open_incidents", label: "未结事件", value: count(f.open_incidents, "起") },
    { key: "reservoirs_above_flood_limit", label: "超汛限水库", value: count(f.reservoirs_above_flood_limit, "座") },
    { key: "residents_in_grave_risk", label: "重大/较大风险区人口", value: people === null || people === undefined ? NONE : people >= 1e4 ? `${(people / 1e4).toFixed(1)} 万人` : count(Math.round(people), "人") },
    { key: "shelter_coverage_pct", label: "避难场所覆盖率", value: f.shelter_coverage_pct === null || f.shelter_coverage_pct === undefined ? NONE : `${f.shelter_coverage_pct.toFixed(1)} %` },
    { key: "stations_offline", label: "离线站点", value: f.stations_offline === null || f.stations_offline === undefined ? NONE : `${NUMBER.format(f.stations_offline)} / ${NUMBER.format(f.stations)} 个` },
    { key: "dead_letters_24h", label: "24 小时死信", value: count(f.dead_letters_24h, "条") },
  );
  return items;
}

export const figureMethods = {
  _buildFigures() {
    this.strip = document.getElementById("om-figures") || el("div", { class: "om-figures", id: "om-figures" });
    if (!this.strip.isConnected) document.body.prepend(this.strip);
    this._loadFigures();
    setInterval(() => this._loadFigures(), FIGURES_MS);
  },

  async _loadFigures() {
    let body;
    try {
      body = await this.api.poll("/map/figures");
    } catch (error) {
      this.strip.title = `关键指标加载失败：${error.message}`;
      this.strip.classList.add("om-stale");
      return;
    }
    if (body === null) return; // on the way to the log-in page
    this.strip.title = "";
    this.strip.classList.remove("om-stale");
    const items = figureItems(body).map((item) => {
      const value = el("b", { class: "om-fig-value", text: item.value });
      if (item.level) { value.style.background = this._alertColour(item.level); if (item.level === "黄") value.classList.add("om-dark"); }
      return el("div", { class: "om-fig", "data-figure": item.key }, [el("span", { class: "om-fig-label", text: item.label }), value]);
    });
    items.push(el("div", { class: "om-fig om-fig-time", text: `更新 ${new Date(body.time).toLocaleTimeString("zh-CN", { hour12: false, timeZone: "Asia/Shanghai" })}` }));
    this.strip.replaceChildren(...items);
  },
};
