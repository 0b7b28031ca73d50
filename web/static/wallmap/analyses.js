/* The analysis overlays of the wall map and its place labels (onemap's own code): risk tiles once
 * the zoning is ready, the shelter-coverage gaps, county and township names. Methods of WallMap
 * (app.js). */

import { el, textTip } from "../shared/dom.js";
import { formatCount } from "../shared/format.js";

export const analysisMethods = {
  _buildAnalyses() {
    for (const analysis of this.config.analyses) {
      let layer;
      if (analysis.kind === "tiles") {
        layer = L.tileLayer(analysis.url, { opacity: 0.55, maxZoom: 18 });
        this._watchTiles(layer);
      } else {
        layer = L.featureGroup();
      }
      this.analyses[analysis.id] = layer;
    }
    this.visible.add("labels");
  },

  async _addWhenReady(id, layer) {
    // Tiles of an analysis computed in the background: ask its "ready" URL first (fetchJSON
    // waits through the 202s), so no tile is requested before there is anything to draw.
    const analysis = this.config.analyses.find((a) => a.id === id);
    if (analysis && analysis.ready && !analysis.isReady) {
      try {
        await this.fetchJSON(analysis.ready);
        analysis.isReady = true;
      } catch (error) {
        this.notify(`${analysis.title}：${error.message}`, true);
        return;
      }
    }
    if (this.visible.has(id) && !this.map.hasLayer(layer)) layer.addTo(this.map);
  },

  async _loadGaps() {
    if (this._gapsLoaded) return;
    const layer = this.analyses.coverage_gaps;
    const analysis = this.config.analyses.find((a) => a.id === "coverage_gaps");
    try {
      const body = await this.fetchJSON(analysis.url);
      this._gapsLoaded = true;
      layer.clearLayers();
      L.geoJSON(body, {
        coordsToLatLng: (c) => this.ll(c[0], c[1]),
        style: { color: analysis.colour, weight: 1, fillColor: analysis.colour, fillOpacity: 0.35, className: "om-p-coverage_gaps" },
        onEachFeature: (feature, l) => {
          const p = feature.properties;
          // GET /coverage/gaps: township (name), residents (persons uncovered), nearest_shelter_min (walk)
          const walk = Number.isFinite(p.nearest_shelter_min) ? `，最近避难场所步行 ${p.nearest_shelter_min.toFixed(1)} 分钟` : "";
          l.bindTooltip(textTip(`${p.township || ""} 未覆盖 ${formatCount(p.residents)} 人${walk}`));
        },
      }).addTo(layer);
    } catch (error) {
      this.notify(`避难场所覆盖缺口：${error.message}`, true);
    }
  },

  async _loadLabels() {
    try {
      const [counties, townships] = await Promise.all([this.fetchJSON("/map/places?level=" + encodeURIComponent("区县")), this.fetchJSON("/map/places?level=" + encodeURIComponent("乡镇街道"))]);
      this.places = { counties: counties.places, townships: townships.places };
      this._labelZoom = null;
      this._drawLabels();
    } catch (error) {
      this.notify(`地名加载失败：${error.message}`, true);
    }
  },

  /** County names up to zoom 10, township names from 11; drawn again only when that or the
   * basemap's offset changes. */
  _drawLabels() {
    if (!this.places) return;
    const township = this.map.getZoom() >= 11;
    const key = `${township}|${this.offset}`;
    if (key === this._labelZoom) return;
    this._labelZoom = key;
    this.labelLayer.clearLayers();
    for (const place of township ? this.places.townships : this.places.counties) {
      const icon = L.divIcon({ html: el("div", { class: township ? "om-label" : "om-label om-county", text: place.name }), className: "om-label-wrap", iconSize: null });
      const marker = L.marker(this.ll(place.lon, place.lat), { icon, interactive: false, keyboard: false });
      this.labelLayer.addLayer(marker);
    }
  },
};
