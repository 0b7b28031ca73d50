/* Search on the wall map (onemap's own code): names of features and places, or a coordinate;
 * a hit opens a popup from which an incident can be placed there. Methods of WallMap (app.js). */

import { debounce, el } from "../shared/dom.js";

export const searchMethods = {
  _buildSearch() {
    const input = el("input", { type: "search", id: "om-search", placeholder: "搜索名称或坐标（如 116.59,35.41）", autocomplete: "off" });
    const hits = el("ul", { class: "om-hits", id: "om-hits" });
    const box = el("div", { class: "om-panel om-search" }, [input, hits]);
    // A hit's list item is removed only after its click has bubbled: Leaflet tells a click on a
    // control from a click on the map by walking up from the target, and a detached item has no
    // parents, so the click would count as the map's and close the hit's popup at once.
    const run = debounce(async () => {
      const text = input.value.trim();
      hits.replaceChildren();
      if (!text) return;
      try {
        const body = await this.fetchJSON("/map/search?q=" + encodeURIComponent(text));
        if (!body.hits.length) hits.append(el("li", { text: "没有找到" }));
        for (const hit of body.hits) {
          const title = hit.kind === "coordinate" ? "坐标" : (this.config.titles || {})[hit.layer] || (this.views[hit.layer] || {}).title || hit.layer;
          hits.append(el("li", { "data-hit": hit.id || "coordinate", onclick: () => { this.showHit(hit); setTimeout(() => hits.replaceChildren()); } }, [document.createTextNode(hit.name), el("small", { text: title })]));
        }
      } catch (error) {
        hits.append(el("li", { text: error.message }));
      }
    }, 250);
    input.addEventListener("input", run);
    input.addEventListener("keydown", (e) => { if (e.key === "Enter") { const first = hits.querySelector("li[data-hit]"); if (first) first.click(); } });
    const control = L.control({ position: "topleft" });
    control.onAdd = () => { L.DomEvent.disableClickPropagation(box); L.DomEvent.disableScrollPropagation(box); return box; };
    control.addTo(this.map);
  },

  showHit(hit) {
    this.searchLayer.clearLayers();
    const at = this.ll(hit.lon, hit.lat);
    const content = el("div", { class: "om-popup" }, [
      el("h4", { text: hit.name }),
      el("div", { class: "om-actions" }, [el("button", { class: "om-button", type: "button", text: "在此标绘事件", onclick: () => this.openIncidentForm(hit.lon, hit.lat) })]),
    ]);
    L.circleMarker(at, { radius: 16, color: "#000", weight: 3, fillOpacity: 0 }).addTo(this.searchLayer).bindPopup(content).openPopup();
    this.map.setView(at, Math.max(this.map.getZoom(), 14));
  },
};
