/* Stored scenarios on the wall map (onemap's own code): the zones of the active (生效中)
 * scenarios, and of the ones computed on this page until they end, each in its grade's colour
 * with the most severe on top; a tooltip per zone; a popup with the impact, the needs and their
 * shortfalls, and 生效 / 结束 for editors. Loaded at start, whenever the road closures change
 * (making a scenario active or ending it writes one; there is no change token of scenarios) and
 * every minute. Methods of WallMap (app.js). */

import { el, textTip } from "../shared/dom.js";
import { formatCount, NUMBER } from "../shared/format.js";

const ACTIVE = "生效中";
const PLANNED = "预案";
const ENDED = "已结束";
const EDITORS = new Set(["editor", "admin"]);
const RELOAD_MS = 60_000;

/** Whether the signed-in user (GET /auth/me) may change things. */
export function canEdit(me) {
  return Boolean(me && EDITORS.has(me.role));
}

export const scenarioMethods = {
  _buildScenarios() {
    this.scenarioView = this.config.analyses.find((a) => a.id === "scenarios");
    this.scenarios = new Map();        // id -> GET /scenarios/{id} (its zones never change; its status does)
    this.pinnedScenarios = new Set();  // computed on this page and not active: shown until they end
    if (!this.scenarioView) return;
    // a pane of their own above the layers' polygons (drawn again on every move), below the markers
    this.map.createPane("om-scenarios").style.zIndex = 450;
    this.visible.add("scenarios");
    this._loadScenarios();
    setInterval(() => this._loadScenarios(), RELOAD_MS);
  },

  /** The active scenarios (GET /scenarios?status=生效中) and the pinned ones, fetched, then drawn. */
  async _loadScenarios() {
    if (!this.scenarioView) return;
    const seq = (this._scenarioSeq = (this._scenarioSeq || 0) + 1);
    try {
      const listed = await this.fetchJSON("/scenarios?" + new URLSearchParams({ status: ACTIVE, limit: "200" }));
      const active = new Map(listed.features.map((f) => [f.id, f.properties]));
      const wanted = [...new Set([...active.keys(), ...this.pinnedScenarios])];
      const found = await Promise.all(wanted.map(async (id) => {
        const known = this.scenarios.get(id);
        // an active one's status is in the list; a pinned one may have been ended or made active elsewhere
        if (known && active.has(id)) return { ...known, ...active.get(id) };
        return this.fetchJSON(`/scenarios/${encodeURIComponent(id)}`);
      }));
      if (seq !== this._scenarioSeq) return; // a newer load superseded this one
      this.scenarios = new Map(found.filter((s) => s.status !== ENDED).map((s) => [s.id, s]));
      for (const id of this.pinnedScenarios) if (!this.scenarios.has(id)) this.pinnedScenarios.delete(id);
    } catch (error) {
      this.notify(`情景加载失败：${error.message}`, true);
      return;
    }
    this._drawScenarios();
  },

  /** A scenario just stored or changed here (as GET /scenarios/{id}): kept, drawn, its popup opened. */
  _takeScenario(scenario, { pin = false, open = false } = {}) {
    this._scenarioSeq = (this._scenarioSeq || 0) + 1; // a load still in flight is older than this
    this.scenarios.set(scenario.id, scenario);
    if (pin && scenario.status !== ENDED) this.pinnedScenarios.add(scenario.id);
    this._drawScenarios();
    if (open) this._openScenario(scenario.id);
  },

  /** Every zone of the shown scenarios, grade by grade from the least severe up, so that the most
   * severe is on top wherever scenarios overlap. */
  _drawScenarios() {
    const group = this.analyses.scenarios;
    if (!group) return;
    group.clearLayers();
    this._scenarioOffset = this.offset;
    this._zoneLayers = new Map();
    const colours = this.scenarioView.colours;
    const zones = [];
    for (const scenario of this.scenarios.values()) {
      scenario.features.filter((f) => f.properties.part === "zone" && f.geometry).forEach((feature, grade) => zones.push({ scenario, feature, grade }));
    }
    zones.sort((a, b) => b.grade - a.grade);
    for (const { scenario, feature, grade } of zones) {
      const colour = colours[Math.min(grade, colours.length - 1)];
      const p = feature.properties;
      const layer = L.geoJSON(feature, {
        coordsToLatLng: (c) => this.ll(c[0], c[1]),
        pane: "om-scenarios",
        style: { color: colour, weight: 2, opacity: 0.9, fillColor: colour, fillOpacity: 0.35, className: `om-p-scenarios om-zone-${grade + 1}` },
      });
      layer.bindTooltip(textTip(`${p.zone} · 面积 ${NUMBER.format(p.area_km2)} km²`), { sticky: true, className: "om-zone-tip" });
      layer.bindPopup(() => this._scenarioPopup(this.scenarios.get(scenario.id) || scenario), { maxWidth: 420 });
      group.addLayer(layer);
      if (grade === 0) this._zoneLayers.set(scenario.id, layer);
    }
    for (const scenario of this.scenarios.values()) {
      const { lon, lat } = scenario.parameters || {};
      if (scenario.kind !== "plume" || !Number.isFinite(lon) || !Number.isFinite(lat)) continue;
      L.circleMarker(this.ll(lon, lat), { pane: "om-scenarios", radius: 6, color: "#fff", weight: 2, fillColor: "#7f0000", fillOpacity: 1, interactive: false, className: "om-scenario-source" }).addTo(group);
    }
  },

  /** Drawn again when the basemap's offset changed since (WGS 84 ↔ GCJ-02). */
  _followScenarioOffset() {
    if (this.scenarioView && this._scenarioOffset !== undefined && this._scenarioOffset !== this.offset) this._drawScenarios();
  },

  /** The popup of a scenario, opened on its northern edge, the map fitted to the scenario with
   * room above it for the popup (and beside it for the panels), so that no zone is hidden. */
  _openScenario(id) {
    const layer = this._zoneLayers && this._zoneLayers.get(id);
    if (!layer) { this.notify("该情景没有面积大于零的影响区", true); return; }
    if (!this.visible.has("scenarios")) this.setVisible("scenarios", true);
    const zones = this.scenarios.get(id).features.filter((f) => f.geometry);
    const bounds = L.geoJSON({ type: "FeatureCollection", features: zones }, { coordsToLatLng: (c) => this.ll(c[0], c[1]) }).getBounds();
    const left = document.body.classList.contains("om-plume-open") ? 360 : 60;
    this.map.fitBounds(bounds, { paddingTopLeft: [left, 330], paddingBottomRight: [400, 40], maxZoom: 14, animate: false });
    layer.openPopup(L.latLng(bounds.getNorth(), bounds.getCenter().lng));
  },

  _scenarioPopup(scenario) {
    const row = (label, value, key) => el("tr", {}, [el("th", { text: label }), el("td", { class: "om-num", "data-value": key, text: value })]);
    const actions = el("div", { class: "om-actions" });
    const button = (text, action, id) => actions.append(el("button", { class: "om-button", type: "button", "data-action": action, text, onclick: () => this._changeScenario(id, action) }));
    if (canEdit(this.me) && scenario.status === PLANNED) button("生效", "activate", scenario.id);
    if (canEdit(this.me) && scenario.status !== ENDED) button("结束", "end", scenario.id);
    return el("div", { class: "om-popup om-scenario", "data-scenario": scenario.id, "data-status": scenario.status }, [
      el("h4", { text: scenario.name || scenario.id }),
      el("div", { class: "om-sub", text: `${scenario.kind_zh || scenario.kind} · ${scenario.status} · ${scenario.id}` }),
      el("table", {}, [row("影响人口", `${formatCount(scenario.residents)} 人`, "residents"), row("需转移人数", `${formatCount(scenario.displaced)} 人`, "displaced")]),
      ...this._needsTable(scenario),
      ...(scenario.warnings || []).slice(0, 3).map((text) => el("div", { class: "om-sub om-scenario-warning", text })),
      actions,
    ]);
  },

  /** The needs (物资, 需求, 缺口, 单位 in Chinese), a need short of stock in red. */
  _needsTable(scenario) {
    const needs = scenario.needs || [];
    if (!needs.length) return [];
    const shortBy = new Map((scenario.shortfalls || []).map((s) => [s.item, s.short]));
    const rows = needs.map((need) => {
      const short = shortBy.get(need.item);
      return el("tr", { class: short > 0 ? "om-short" : "", "data-item": need.item }, [
        el("td", { text: need.name_zh || need.item }),
        el("td", { class: "om-num", text: NUMBER.format(need.quantity) }),
        el("td", { class: "om-num", text: short === undefined ? "—" : NUMBER.format(short) }),
        el("td", { text: need.unit_zh || need.unit }),
      ]);
    });
    return [el("h5", { text: "物资需求与缺口" }), el("table", { class: "om-needs" }, [el("tr", {}, ["物资", "需求", "缺口", "单位"].map((h) => el("th", { text: h }))), ...rows])];
  },

  /** 生效 (activate) or 结束 (end): the closure it writes or lifts is drawn, the scenarios again. */
  _changeScenario(id, action) {
    this.map.closePopup();
    return this._save(action === "activate" ? "情景未生效" : "情景未结束", async () => {
      const answer = await this.sendJSON("POST", `/scenarios/${encodeURIComponent(id)}/${action}`);
      const known = this.scenarios.get(id);
      this._scenarioSeq = (this._scenarioSeq || 0) + 1; // a load still in flight is older than this
      if (answer.properties.status === ENDED) {
        this.scenarios.delete(id);
        this.pinnedScenarios.delete(id);
      } else if (known) {
        this.scenarios.set(id, { ...known, ...answer.properties });
      }
      this._drawScenarios();
      await this._closuresChanged();
    });
  },
};
