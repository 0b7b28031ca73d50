/* The wall map itself (onemap's own code): its state, the coordinates of our data on the chosen
 * basemap, what is visible, and the view in the URL. Each concern adds its methods from its own
 * module (the way Leaflet's classes take `include()`), so `window.onemap` stays one object that
 * the tests and the benchmark can ask. */

import { debounce, el } from "../shared/dom.js";
import { gcjToWgs, wgsToGcj } from "../shared/gcj02.js";
import { isChange } from "../shared/live.js";
import { alertMethods } from "./alerts.js";
import { analysisMethods } from "./analyses.js";
import { Api } from "./api.js";
import { basemapMethods } from "./basemaps.js";
import { chartMethods } from "./chart.js";
import { drawingMethods } from "./drawing.js";
import { exportMethods } from "./export.js";
import { figureMethods } from "./figures.js";
import { incidentMethods } from "./incident.js";
import { layerMethods } from "./layers.js";
import { liveMethods } from "./live.js";
import { panelMethods } from "./panel.js";
import { formatPermalink, parsePermalink } from "./permalink.js";
import { plumeMethods } from "./plume_tool.js";
import { scenarioMethods } from "./scenarios.js";
import { searchMethods } from "./search.js";
import { vectorMethods } from "./vector_layers.js";

export class WallMap {
  constructor(map, config) {
    this.map = map;
    this.config = config;
    this.api = new Api({ busy: (delta) => this._busy(delta), waiting: (text) => this.notify(text) });
    this.views = {};
    for (const view of config.layers) { view.classMap = Object.fromEntries(view.style.class_colors); this.views[view.id] = view; }
    this.layers = {};          // id -> {container, box, seq, matched, returned, ids}; tiled: container is a vector-tile layer
    this.analyses = {};        // id -> leaflet layer
    this.visible = new Set();
    this.pending = 0;
    this.loadingTiles = new Set();
    this.versions = null;
    this.offset = "wgs84";
    this.incident = null;
    this.k = 3;
    this.mode = null;          // null | "incident" | "closure"
    this.drawing = [];
    if (config.wall) document.body.classList.add("om-wall");
    this.routeLayer = L.featureGroup().addTo(map);
    this.searchLayer = L.featureGroup().addTo(map);
    this.drawLayer = L.featureGroup().addTo(map);
    this.labelLayer = L.layerGroup();
    this._buildBasemaps();
    this._buildDataLayers();
    this._buildAnalyses();
    this._buildVectorAnalyses();
    this._buildScenarios();
    this._buildPanel();
    this._buildSearch();
    this._buildToolbar();
    this._buildPlumeTool();
    this._buildCoordinates();
    this._buildSide();
    this._buildAlerts();
    this._buildFigures();
    this.ticker = el("div", { class: "om-ticker", id: "om-ticker" });
    document.body.append(this.ticker);
    if (!this._readHash()) this._defaultView();
    map.on("moveend", debounce(() => { this.refresh(); this._writeHash(); }, 150));
    map.on("click", (event) => this._onMapClick(event));
    map.on("dblclick", (event) => { if (this.mode === "closure") { L.DomEvent.stop(event); this._finishClosure(); } });
    this.refresh();
    this._loadCounts();
    this._loadLabels();
    this._startLive();
  }

  // -- observed state: the editors' tools follow the role (panel.js sets `me`); the scenarios are
  //    loaded again when the road closures' change token moves (live.js sets `versions`) --
  get me() { return this._me; }
  set me(me) { this._me = me; this._roleChanged(); }
  get versions() { return this._versions; }
  set versions(versions) {
    const before = this._versions;
    this._versions = versions;
    if (versions && isChange(before, "road_closures", versions.road_closures)) this._loadScenarios();
  }

  // -- state for tests and the benchmark: data-onemap-ready = "1" when nothing is loading --
  _busy(delta) {
    this.pending += delta;
    this._markReady();
  }
  _markReady() {
    const ready = this.pending === 0 && this.loadingTiles.size === 0;
    document.documentElement.dataset.onemapReady = ready ? "1" : "0";
  }

  fetchJSON(url, options) {
    return this.api.fetchJSON(url, options);
  }

  sendJSON(method, url, body) {
    return this.api.sendJSON(method, url, body);
  }

  notify(text, isError) {
    this.ticker.textContent = text;
    this.ticker.style.background = isError ? "#444" : "#a50f15";
    this.ticker.classList.add("om-open");
    clearTimeout(this._tickerTimer);
    this._tickerTimer = setTimeout(() => this.ticker.classList.remove("om-open"), 6000);
  }

  // -- coordinates: our data are WGS 84; on a GCJ-02 basemap they are shifted to fit it --
  ll(lon, lat) {
    if (this.offset === "gcj02") { const g = wgsToGcj(lon, lat); return L.latLng(g[1], g[0]); }
    return L.latLng(lat, lon);
  }
  lonlat(latlng) {
    if (this.offset === "gcj02") return gcjToWgs(latlng.lng, latlng.lat);
    return [latlng.lng, latlng.lat];
  }
  viewBox(pad) {
    const bounds = this.map.getBounds().pad(pad || 0);
    const sw = this.lonlat(bounds.getSouthWest()), ne = this.lonlat(bounds.getNorthEast());
    const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
    return [clamp(sw[0], -180, 180), clamp(sw[1], -90, 90), clamp(ne[0], -180, 180), clamp(ne[1], -90, 90)];
  }

  // -- what is visible ------------------------------------------------------------------------
  refresh() {
    for (const id of Object.keys(this.layers)) {
      const on = this.visible.has(id);
      const container = this.layers[id].container;
      if (on && !this.map.hasLayer(container)) container.addTo(this.map);
      if (!on && this.map.hasLayer(container)) this.map.removeLayer(container);
      if (on) this.loadLayer(id);
    }
    for (const [id, layer] of Object.entries(this.analyses)) {
      const on = this.visible.has(id);
      if (on && !this.map.hasLayer(layer)) {
        if (id === "coverage_gaps") { layer.addTo(this.map); this._loadGaps(); } else this._addWhenReady(id, layer);
      }
      if (!on && this.map.hasLayer(layer)) this.map.removeLayer(layer);
    }
    const labels = this.visible.has("labels");
    if (labels && !this.map.hasLayer(this.labelLayer)) this.labelLayer.addTo(this.map);
    if (!labels && this.map.hasLayer(this.labelLayer)) this.map.removeLayer(this.labelLayer);
    this._drawLabels();
    this._followScenarioOffset();
    this._followVectorOffset();
    this._syncPanel();
  }

  setVisible(ids, on) {
    for (const id of [].concat(ids)) { if (on) this.visible.add(id); else this.visible.delete(id); }
    this.refresh();
    this._writeHash();
  }

  // -- the view in the URL hash (permalink.js) ------------------------------------------------
  _writeHash() {
    if (this._applyingHash) return;
    const c = this.map.getCenter();
    const base = this.basemapId !== this.config.basemaps[0].id ? this.basemapId : null;
    history.replaceState(null, "", formatPermalink({ zoom: this.map.getZoom(), lat: c.lat, lon: c.lng, layers: [...this.visible], base }));
  }
  _readHash() {
    const view = parsePermalink(location.hash);
    if (!view) return false;
    this._applyingHash = true;
    if (view.layers) this.visible = new Set(view.layers.filter((n) => this.layers[n] || this.analyses[n] || n === "labels"));
    if (view.base) this.setBasemap(view.base);
    this.map.setView([view.lat, view.lon], view.zoom, { animate: false }); // at once: layers added next load at this view only
    this._applyingHash = false;
    return true;
  }
  _defaultView() {
    // The city's outline bounds come in the config, so the first view is the city every time.
    const [w, s, e, n] = this.config.city_bbox;
    this.map.fitBounds([[s, w], [n, e]], { animate: false });
  }

  // -- coordinates under the cursor ------------------------------------------------------------
  _buildCoordinates() {
    const box = el("div", { class: "om-coords", id: "om-coords", text: "经度 —  纬度 —" });
    this.map.on("mousemove", (e) => { const [lon, lat] = this.lonlat(e.latlng); box.textContent = `经度 ${lon.toFixed(5)}  纬度 ${lat.toFixed(5)}`; });
    const control = L.control({ position: "bottomleft" });
    control.onAdd = () => box;
    control.addTo(this.map);
  }
}

Object.assign(WallMap.prototype, basemapMethods, layerMethods, analysisMethods, panelMethods, searchMethods, drawingMethods, incidentMethods, liveMethods, exportMethods, alertMethods, chartMethods, figureMethods, scenarioMethods, plumeMethods, vectorMethods);
