/* The incident panel of the wall map (onemap's own code): for an incident, the nearest resources
 * by road with their routes and ETA table, the service areas by travel time, the residents within
 * 1/3/5 km and the risk level at the point; a read-only share link for the field team. Methods of
 * WallMap (app.js). */

import { bandColour, bandMinutes, INCIDENT_COLOUR, isLight, ROUTE_COLOURS } from "../shared/colours.js";
import { badge, el, textTip } from "../shared/dom.js";
import { formatCoordinates, formatCount, formatDateTime, formatKm, formatMinutes } from "../shared/format.js";

const RESOURCE_TITLES = { rescue_stations: "救援力量", supply_depots: "物资储备", shelters: "避难场所" };

/** A promise's outcome as {value} or {error}, so that one failed analysis leaves the others. */
function settle(promise) {
  return promise.then((value) => ({ value }), (error) => ({ error }));
}

export const incidentMethods = {
  _buildSide() {
    this.side = el("div", { class: "om-panel om-side", id: "om-side" });
    const control = L.control({ position: "topleft" });
    control.onAdd = () => { L.DomEvent.disableClickPropagation(this.side); L.DomEvent.disableScrollPropagation(this.side); return this.side; };
    control.addTo(this.map);
  },

  async analyse(incident) {
    // The server routes around the closures in force (road_closures) and says which it used.
    this.incident = incident;
    const seq = (this._analysisSeq = (this._analysisSeq || 0) + 1);
    const { lon, lat } = incident;
    this.side.classList.add("om-open");
    this.side.replaceChildren(el("h2", { text: `事件：${incident.name || ""}` }), el("div", { text: "正在分析…" }));
    const params = new URLSearchParams({ lon, lat, layers: this.config.resource_layers.join(","), k: String(this.k) });
    const areaParams = new URLSearchParams({ lon, lat, minutes: bandMinutes() });
    const [nearest, areas, situation, risk] = await Promise.all([
      settle(this.fetchJSON("/routing/nearest?" + params)),
      settle(this.fetchJSON("/routing/areas?" + areaParams)),
      settle(this.fetchJSON("/map/situation?" + new URLSearchParams({ lon, lat }))),
      settle(this.fetchJSON("/risk/at?" + new URLSearchParams({ lon, lat }))),
    ]);
    if (seq !== this._analysisSeq) return;
    const used = nearest.value && nearest.value.closures ? nearest.value.closures.stored_closures.length : 0;
    this._drawIncident(incident, nearest, areas, situation, risk, used);
  },

  _drawIncident(incident, nearest, areas, situation, risk, closed) {
    const { lon, lat } = incident;
    this.routeLayer.clearLayers();
    this.analyses.service_areas.clearLayers();
    const here = this.ll(lon, lat);
    const close = el("button", { class: "om-button om-close", type: "button", text: "关闭", onclick: () => this.clearIncident() });
    const kSelect = el("select", { id: "om-k", onchange: (e) => { this.k = Number(e.target.value); this.analyse(this.incident); } },
      [1, 3, 5, 10].map((k) => el("option", { value: k, text: `每类 ${k} 个`, selected: k === this.k })));
    const share = incident.id ? el("button", { class: "om-button", type: "button", id: "om-share", text: "分享给现场", title: "生成只读链接（24 小时有效），发给现场队伍", onclick: () => this.shareIncident(incident) }) : null;
    const brief = incident.id ? el("button", { class: "om-button", type: "button", id: "om-brief", text: "简报 PDF", title: "生成本事件的 A4 简报（地图、影响人口、物资缺口、最近救援力量、封闭道路）", onclick: () => this.downloadBrief(incident) }) : null;
    const children = [close, share, brief, el("h2", { text: `事件：${incident.name || ""}` }), el("div", { class: "om-sub", id: "om-closures-used", text: `${formatCoordinates(lon, lat)}${closed ? ` · 已避开 ${closed} 处封闭区` : ""}` }), kSelect];
    children.push(this._riskBox(risk));
    children.push(...this._residents(situation, here));
    const bounds = L.latLngBounds([here]);
    children.push(...this._nearest(nearest, bounds));
    this._serviceAreas(areas);
    L.marker(here, { icon: L.divIcon({ html: badge(["om-icon", "om-incident"], 40, INCIDENT_COLOUR, "事", 22), className: "om-incident-here", iconSize: [40, 40], iconAnchor: [20, 20] }), zIndexOffset: 1000 }).addTo(this.routeLayer);
    this.side.replaceChildren(...children);
    this.map.fitBounds(bounds.pad(0.15), { maxZoom: 14 });
  },

  /** The risk level at the point (/risk/at), or why there is none. */
  _riskBox(risk) {
    const riskBox = el("div", { id: "om-risk" });
    if (risk.value) {
      const colour = this.config.risk_colours[risk.value.level] || "#ccc";
      riskBox.append(document.createTextNode("风险等级："), el("span", { class: "om-risk-badge", style: `background:${colour};color:${isLight(colour) ? "#000" : "#fff"}`, text: risk.value.level }), document.createTextNode(`  评分 ${risk.value.score.toFixed(3)}`));
    } else {
      riskBox.textContent = `风险等级：${risk.error && risk.error.status === 400 ? "不在区划范围内" : "暂不可用"}`;
    }
    return riskBox;
  },

  /** Residents within 1/3/5 km (/map/situation): the table, and the rings on the map. */
  _residents(situation, here) {
    if (!situation.value) return [];
    const rings = situation.value.residents_within_km;
    for (const km of Object.keys(rings)) L.circle(here, { radius: Number(km) * 1000, color: "#555", weight: 1, dashArray: "4 6", fill: false, interactive: false }).addTo(this.routeLayer);
    return [el("h4", { text: "周边常住人口" }), el("table", { id: "om-residents" }, Object.entries(rings).map(([km, persons]) =>
      el("tr", { "data-km": km }, [el("th", { text: `${km} km 内` }), el("td", { class: "om-num", text: `${formatCount(persons)} 人` })])))];
  },

  /** The nearest resources by road (/routing/nearest): an ETA table per kind, the routes on the
   * map (the fastest thicker), `bounds` extended to hold them. */
  _nearest(nearest, bounds) {
    if (!nearest.value) return [el("div", { class: "om-warn", id: "om-route-error", text: `路径分析失败：${nearest.error.message}` })];
    const children = [];
    const byLayer = {};
    for (const feature of nearest.value.features) (byLayer[feature.properties.layer] = byLayer[feature.properties.layer] || []).push(feature);
    for (const layer of this.config.resource_layers) {
      const rows = [];
      for (const feature of byLayer[layer] || []) {
        const p = feature.properties;
        const reachable = p.reachable !== false && p.travel_time_min !== null;
        rows.push(el("tr", { class: "om-eta-row" + (reachable ? "" : " om-unreachable"), "data-layer": layer, "data-rank": p.rank, "data-id": p.resource_id }, [
          el("td", { class: "om-num", text: p.rank ?? "" }),
          el("td", { text: p.name }),
          el("td", { class: "om-num", text: reachable ? formatMinutes(p.travel_time_min) : "不可达" }),
          el("td", { class: "om-num", text: reachable ? formatKm(p.distance_km) : "" }),
        ]));
        if (!reachable || !feature.geometry) continue;
        const route = L.geoJSON(feature.geometry, {
          coordsToLatLng: (c) => this.ll(c[0], c[1]),
          style: { color: ROUTE_COLOURS[layer], weight: p.rank === 1 ? 7 : 4, opacity: p.rank === 1 ? 0.9 : 0.6, className: `om-route om-route-${layer}` },
        }).bindTooltip(textTip(`${RESOURCE_TITLES[layer]} 第${p.rank}名 ${p.name}：${formatMinutes(p.travel_time_min)}，${formatKm(p.distance_km)}`));
        route.addTo(this.routeLayer);
        bounds.extend(route.getBounds());
        const start = feature.geometry.coordinates[0];
        const etaText = el("div", { class: "om-eta", text: `${p.rank}·${p.travel_time_min.toFixed(1)}分` });
        etaText.style.color = ROUTE_COLOURS[layer];
        const eta = L.divIcon({ html: etaText, className: "om-eta-wrap", iconSize: null, iconAnchor: [-8, 10] });
        L.marker(this.ll(start[0], start[1]), { icon: eta, interactive: false, keyboard: false }).addTo(this.routeLayer);
      }
      children.push(el("h4", { text: RESOURCE_TITLES[layer] }), el("table", { class: "om-eta-table", "data-layer": layer }, [
        el("tr", {}, ["#", "名称", "用时", "路程"].map((h) => el("th", { text: h }))), ...rows]));
    }
    return children;
  },

  /** The service areas by travel time (/routing/areas), the longest below, with their residents. */
  _serviceAreas(areas) {
    if (!areas.value) return;
    const areaLayer = this.analyses.service_areas;
    const features = [...areas.value.features].sort((a, b) => b.properties.minutes - a.properties.minutes);
    for (const feature of features) {
      if (!feature.geometry) continue;
      const colour = bandColour(feature.properties.minutes);
      L.geoJSON(feature.geometry, { coordsToLatLng: (c) => this.ll(c[0], c[1]), style: { color: colour, weight: 2, fillColor: colour, fillOpacity: 0.07, className: "om-p-service_areas" } })
        .bindTooltip(textTip(`${feature.properties.minutes} 分钟车程：常住人口 ${formatCount(feature.properties.residents)} 人`)).addTo(areaLayer);
    }
    if (!this.visible.has("service_areas")) this.setVisible("service_areas", true);
  },

  async shareIncident(incident) {
    const layers = this.config.resource_layers.filter((id) => this.visible.has(id));
    let link;
    try {
      link = await this.sendJSON("POST", "/shares", { incident_id: incident.id, layers: layers.length ? layers : this.config.resource_layers, k: Math.min(this.k, 5) });
    } catch (error) {
      this.notify(`链接未生成：${error.message}`, true);
      return;
    }
    const url = location.origin + link.url;
    const box = el("div", { class: "om-popup", id: "om-share-link" }, [
      el("h4", { text: "现场链接（只读）" }),
      el("input", { type: "text", readonly: true, value: url, style: "width:100%;font-size:14px", onfocus: (e) => e.target.select() }),
      el("div", { class: "om-sub", text: `有效期至 ${formatDateTime(link.expires_at)}；可在“分享链接”列表中撤销` }),
    ]);
    L.popup({ maxWidth: 420 }).setLatLng(this.ll(incident.lon, incident.lat)).setContent(box).openOn(this.map);
    if (navigator.clipboard) {
      try {
        await navigator.clipboard.writeText(url);
      } catch (error) {
        // Copying needs the page focused and the permission; the link is in the popup to copy by hand.
        box.append(el("div", { class: "om-sub", text: `未能自动复制（${error.message}），请手动复制` }));
      }
    }
  },

  async downloadBrief(incident) {
    let file;
    try {
      file = await this.api.fetchFile(`/incidents/${encodeURIComponent(incident.id)}/brief.pdf`);
    } catch (error) {
      this.notify(`简报未生成：${error.message}`, true);
      return;
    }
    const link = el("a", { href: URL.createObjectURL(file), download: `简报-${incident.name || incident.id}.pdf` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
  },

  clearIncident() {
    this.incident = null;
    this.routeLayer.clearLayers();
    this.analyses.service_areas.clearLayers();
    this.side.classList.remove("om-open");
  },
};
