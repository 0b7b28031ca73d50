/* onemap 应急一张图 — the command wall map (onemap's own code).
 *
 * Draws the config that web/wallmap.py builds: layer groups with icons, colours by class, counts,
 * toggles and legends; data fetched from the API for the current view (never inlined); incident
 * mode (nearest resources by road, ETA table, service areas, residents within 1/3/5 km, risk at
 * the point); road closures drawn on the map; live refresh by polling /map/live; the view and
 * visible layers in the URL hash; search, coordinates, fullscreen, PNG export and print.
 *
 * Every text from the data is put in the page with textContent, never as HTML.
 */
(function () {
  "use strict";

  // ---- small helpers -------------------------------------------------------------------------

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "text") node.textContent = value;
      else if (key === "class") node.className = value;
      else if (key === "style") node.style.cssText = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children || []) if (child) node.append(child);
    return node;
  }

  // A tooltip or label from data: a text node, never HTML (Leaflet renders a string as HTML).
  function textTip(text) {
    return el("span", { text });
  }

  // A badge icon (a glyph in a coloured circle or diamond), built from DOM nodes.
  function badge(classes, size, colour, glyph, fontSize) {
    const node = el("div", { class: classes.join(" ") }, [el("span", { text: glyph })]);
    Object.assign(node.style, { width: `${size}px`, height: `${size}px`, background: colour, fontSize: `${fontSize}px` });
    return node;
  }

  function debounce(fn, ms) {
    let timer = null;
    return function () { clearTimeout(timer); timer = setTimeout(fn, ms); };
  }

  const NUMBER = new Intl.NumberFormat("zh-CN", { maximumFractionDigits: 2 });
  function formatValue(value, type) {
    if (value === null || value === undefined || value === "") return null;
    if (type === "bool") return value ? "是" : "否";
    if (type === "int" || type === "float") return NUMBER.format(value);
    if (type === "datetime") {
      const date = new Date(value);
      return isNaN(date) ? String(value) : date.toLocaleString("zh-CN", { hour12: false });
    }
    return String(value);
  }

  function isLight(hex) {
    const v = parseInt(String(hex).slice(1), 16);
    return ((v >> 16) & 255) * 0.299 + ((v >> 8) & 255) * 0.587 + (v & 255) * 0.114 > 170;
  }

  // ---- GCJ-02 (the offset of Gaode/Tencent basemaps), the same formulas as gis/crs.py --------

  const KRASOVSKY_A = 6378245.0, KRASOVSKY_EE = 0.00669342162296594323;
  function gcjDelta(lon, lat) {
    const x = lon - 105.0, y = lat - 35.0;
    let dLat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
    dLat += (20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0 / 3.0;
    dLat += (20.0 * Math.sin(y * Math.PI) + 40.0 * Math.sin(y / 3.0 * Math.PI)) * 2.0 / 3.0;
    dLat += (160.0 * Math.sin(y / 12.0 * Math.PI) + 320 * Math.sin(y * Math.PI / 30.0)) * 2.0 / 3.0;
    let dLon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
    dLon += (20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0 / 3.0;
    dLon += (20.0 * Math.sin(x * Math.PI) + 40.0 * Math.sin(x / 3.0 * Math.PI)) * 2.0 / 3.0;
    dLon += (150.0 * Math.sin(x / 12.0 * Math.PI) + 300.0 * Math.sin(x / 30.0 * Math.PI)) * 2.0 / 3.0;
    const radLat = lat / 180.0 * Math.PI;
    let magic = Math.sin(radLat);
    magic = 1 - KRASOVSKY_EE * magic * magic;
    const sqrtMagic = Math.sqrt(magic);
    dLat = (dLat * 180.0) / ((KRASOVSKY_A * (1 - KRASOVSKY_EE)) / (magic * sqrtMagic) * Math.PI);
    dLon = (dLon * 180.0) / (KRASOVSKY_A / sqrtMagic * Math.cos(radLat) * Math.PI);
    return [dLon, dLat];
  }
  function wgsToGcj(lon, lat) { const d = gcjDelta(lon, lat); return [lon + d[0], lat + d[1]]; }
  function gcjToWgs(lon, lat) {
    let wlon = lon, wlat = lat;
    for (let i = 0; i < 6; i++) { const g = wgsToGcj(wlon, wlat); wlon -= g[0] - lon; wlat -= g[1] - lat; }
    return [wlon, wlat];
  }

  // ---- the wall map ----------------------------------------------------------------------------

  class WallMap {
    constructor(map, config) {
      this.map = map;
      this.config = config;
      this.views = {};
      for (const view of config.layers) { view.classMap = Object.fromEntries(view.classes); this.views[view.id] = view; }
      this.layers = {};          // id -> {container, box, seq, matched, returned, ids}
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
      this._buildPanel();
      this._buildSearch();
      this._buildToolbar();
      this._buildCoordinates();
      this._buildSide();
      this.ticker = el("div", { class: "om-ticker", id: "om-ticker" });
      document.body.append(this.ticker);
      if (!this._readHash()) this._defaultView();
      map.on("moveend", debounce(() => { this.refresh(); this._writeHash(); }, 150));
      map.on("click", (event) => this._onMapClick(event));
      map.on("dblclick", (event) => { if (this.mode === "closure") { L.DomEvent.stop(event); this._finishClosure(); } });
      this.refresh();
      this._loadCounts();
      this._loadLabels();
      this._poll();
      setInterval(() => this._poll(), config.live_interval_ms);
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

    async fetchJSON(url, options) {
      this._busy(1);
      try {
        let response = await fetch(url, options);
        let body = await response.json().catch(() => ({}));
        while (response.status === 202) {
          // An analysis computed in the background (risk zoning, coverage): say which step, wait, ask again.
          this.notify(`正在计算：${body.job || ""}（${body.step || ""}，已 ${Math.round(body.elapsed_s || 0)} 秒）`);
          const wait = Number(response.headers.get("Retry-After")) || 3;
          await new Promise((resolve) => { setTimeout(resolve, wait * 1000); });
          response = await fetch(url, options);
          body = await response.json().catch(() => ({}));
        }
        if (!response.ok) {
          const error = new Error(body.description || `${response.status} ${response.statusText}`);
          error.status = response.status;
          throw error;
        }
        return body;
      } finally {
        this._busy(-1);
      }
    }

    /** A JSON write (POST/PATCH) to the API; rejects with the server's description. */
    sendJSON(method, url, body) {
      const options = { method };
      if (body !== undefined) { options.headers = { "Content-Type": "application/json" }; options.body = JSON.stringify(body); }
      return this.fetchJSON(url, options);
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

    // ---- basemaps ----------------------------------------------------------------------------
    _buildBasemaps() {
      this.basemaps = {};
      for (const provider of this.config.basemaps) {
        const options = { maxZoom: provider.maxZoom || 18, attribution: provider.attribution || "", subdomains: provider.subdomains || "abc" };
        const layers = [L.tileLayer(provider.url, options)];
        if (provider.overlay) layers.push(L.tileLayer(provider.overlay, options));
        for (const layer of layers) this._watchTiles(layer);
        this.basemaps[provider.id] = { provider, layer: L.layerGroup(layers) };
      }
      this.basemapId = this.config.basemaps[0].id;
      this.basemaps[this.basemapId].layer.addTo(this.map);
    }
    _watchTiles(layer) {
      layer.on("loading", () => { this.loadingTiles.add(layer); this._markReady(); });
      layer.on("load remove", () => { this.loadingTiles.delete(layer); this._markReady(); });
    }
    setBasemap(id) {
      if (!this.basemaps[id] || id === this.basemapId) return;
      this.map.removeLayer(this.basemaps[this.basemapId].layer);
      this.basemapId = id;
      this.basemaps[id].layer.addTo(this.map);
      const offset = this.basemaps[id].provider.offset || "wgs84";
      if (offset !== this.offset) {
        this.offset = offset;
        for (const state of Object.values(this.layers)) state.box = null;
        this._drawLabels();
        this.refresh();
        if (this.incident) this.analyse(this.incident);
      }
      this._writeHash();
    }

    // ---- data layers ---------------------------------------------------------------------------
    _buildDataLayers() {
      for (const view of this.config.layers) {
        const container = view.cluster
          ? L.markerClusterGroup({ chunkedLoading: true, disableClusteringAtZoom: 13, maxClusterRadius: 45, showCoverageOnHover: false, iconCreateFunction: (cluster) => this._clusterIcon(view, cluster) })
          : L.featureGroup();
        this.layers[view.id] = { container, box: null, seq: 0, matched: 0, returned: 0, ids: new Set(), total: null };
        if (view.visible) this.visible.add(view.id);
      }
    }

    _clusterIcon(view, cluster) {
      const count = cluster.getChildCount();
      const size = count < 10 ? 34 : count < 100 ? 40 : 48;
      const html = badge(["om-icon", "om-cluster"], size, view.colour, `${view.glyph}${count}`, 15);
      return L.divIcon({ html, className: `om-marker om-c-${view.id}`, iconSize: [size, size] });
    }

    colourOf(view, properties) {
      return (view.by && view.classMap[properties[view.by]]) || view.colour;
    }

    iconFor(view, properties) {
      const colour = this.colourOf(view, properties);
      let size = this.config.wall ? 34 : 28;
      if (view.size_by && properties[view.size_by]) size = Math.round(Math.min(size + 12, size - 8 + Math.sqrt(properties[view.size_by]) / 12));
      const classes = ["om-icon"];
      if (view.shape === "diamond") { classes.push("om-diamond"); size = Math.round(size * 0.8); }
      if (isLight(colour)) classes.push("om-dark");
      if (view.id === "reservoirs" && properties.above_flood_limit) classes.push("om-alert");
      if (view.id === "incidents" && properties.status !== "已结束") classes.push("om-incident");
      const html = badge(classes, size, colour, view.glyph, Math.round(size * 0.55));
      return L.divIcon({ html, className: `om-marker om-m-${view.id}`, iconSize: [size, size], iconAnchor: [size / 2, size / 2], popupAnchor: [0, -size / 2] });
    }

    popupFor(view, feature) {
      const p = feature.properties;
      const rows = [];
      for (const [name, label, type] of view.fields) {
        const value = formatValue(p[name], type);
        if (value !== null) rows.push(el("tr", {}, [el("th", { text: label }), el("td", { text: value })]));
      }
      const actions = el("div", { class: "om-actions" });
      const box = el("div", { class: "om-popup" }, [
        el("h4", { text: p.name || feature.id }),
        el("div", { class: "om-sub", text: `${view.title} · ${feature.id}` }),
        view.id === "reservoirs" && p.above_flood_limit ? el("div", { class: "om-warn", text: "超汛限水位 (above the flood-limit level)" }) : null,
        el("table", {}, rows),
        actions,
      ]);
      const button = (text, handler) => actions.append(el("button", { class: "om-button", text, type: "button", onclick: handler }));
      const [lon, lat] = this._anchor(feature);
      if (view.id === "incidents") {
        button("分析最近力量", () => { this.map.closePopup(); this.analyse({ lon, lat, id: feature.id, name: p.name }); });
        if (p.status === "已上报") button("处置中", () => this._patchIncident(feature.id, "处置中"));
        if (p.status !== "已结束") button("结束", () => this._patchIncident(feature.id, "已结束"));
      } else if (view.id === "road_closures") {
        button("解除封闭", () => this._liftClosure(feature.id));
      } else if (view.id === "reservoirs") {
        button("更新水位", () => this._updateLevel(feature.id, p));
      }
      if (view.id !== "incidents" && view.id !== "road_closures") button("在此标绘事件", () => this.openIncidentForm(lon, lat));
      return box;
    }

    _anchor(feature) {
      const g = feature.geometry;
      if (g.type === "Point") return g.coordinates;
      const bounds = L.geoJSON(g).getBounds();
      return [bounds.getCenter().lng, bounds.getCenter().lat];
    }

    drawFeature(view, feature) {
      if (!feature.geometry) return null;
      if (feature.geometry.type === "Point") {
        const [lon, lat] = feature.geometry.coordinates;
        const marker = L.marker(this.ll(lon, lat), { icon: this.iconFor(view, feature.properties), title: feature.properties.name || "", keyboard: false, riseOnHover: true });
        marker.bindPopup(() => this.popupFor(view, feature), { maxWidth: 360 });
        marker.featureId = feature.id;
        return marker;
      }
      const colour = this.colourOf(view, feature.properties);
      const closure = view.id === "road_closures";
      const layer = L.geoJSON(feature, {
        coordsToLatLng: (c) => this.ll(c[0], c[1]),
        style: { color: colour, weight: closure ? 3 : 2, dashArray: closure ? "8 5" : null, fillColor: colour, fillOpacity: closure ? 0.35 : 0.22, className: `om-p-${view.id}` },
      });
      layer.bindPopup(() => this.popupFor(view, feature), { maxWidth: 360 });
      layer.featureId = feature.id;
      return layer;
    }

    async loadLayer(id, force) {
      const state = this.layers[id];
      const view = this.views[id];
      if (!this.visible.has(id)) return;
      const current = this.map.getBounds();
      if (!force && state.box && state.box.contains(current)) return;
      const seq = ++state.seq;
      const box = this.viewBox(0.3);
      const params = new URLSearchParams({ bbox: box.join(","), limit: "10000", ...view.filters });
      let body;
      try {
        body = await this.fetchJSON(`/collections/${id}/items?${params}`);
      } catch (error) {
        this.notify(`${view.title} 加载失败：${error.message}`, true);
        return;
      }
      if (seq !== state.seq) return; // a newer request superseded this one
      state.container.clearLayers();
      const drawn = [];
      for (const feature of body.features) {
        const layer = this.drawFeature(view, feature);
        if (layer) drawn.push(layer);
      }
      if (view.cluster) state.container.addLayers(drawn); else for (const layer of drawn) state.container.addLayer(layer);
      const previous = state.ids;
      state.ids = new Set(body.features.map((f) => f.id));
      state.box = L.latLngBounds(this.ll(box[0], box[1]), this.ll(box[2], box[3]));
      state.matched = body.numberMatched;
      state.returned = body.numberReturned;
      this._updateRow(id);
      return { features: body.features, previous };
    }

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
      this._syncPanel();
    }

    setVisible(ids, on) {
      for (const id of [].concat(ids)) { if (on) this.visible.add(id); else this.visible.delete(id); }
      this.refresh();
      this._writeHash();
    }

    // ---- analyses --------------------------------------------------------------------------
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
    }

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
    }

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
            l.bindTooltip(textTip(`${p.township || ""} 未覆盖 ${NUMBER.format(Math.round(p.residents || 0))} 人${walk}`));
          },
        }).addTo(layer);
      } catch (error) {
        this.notify(`避难场所覆盖缺口：${error.message}`, true);
      }
    }

    // ---- place labels ------------------------------------------------------------------------
    async _loadLabels() {
      try {
        const [counties, townships] = await Promise.all([this.fetchJSON("/map/places?level=" + encodeURIComponent("区县")), this.fetchJSON("/map/places?level=" + encodeURIComponent("乡镇街道"))]);
        this.places = { counties: counties.places, townships: townships.places };
        this._labelZoom = null;
        this._drawLabels();
      } catch (error) {
        this.notify(`地名加载失败：${error.message}`, true);
      }
    }
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
    }

    // ---- the layer panel ---------------------------------------------------------------------
    _buildPanel() {
      const panel = el("div", { class: "om-panel om-layers", id: "om-layers" });
      this.rows = {};
      const groupBoxes = {};
      for (const group of this.config.groups) {
        const members = group.id === "analysis" ? this.config.analyses.map((a) => a.id)
          : group.id === "basemap" ? ["labels"]
          : this.config.layers.filter((v) => v.group === group.id).map((v) => v.id);
        const groupBox = el("input", { type: "checkbox", "data-group": group.id, onchange: (e) => this.setVisible(members, e.target.checked) });
        groupBoxes[group.id] = { box: groupBox, members };
        panel.append(el("h3", {}, [groupBox, el("span", { text: group.title })]));
        if (group.id === "basemap") {
          for (const [id, basemap] of Object.entries(this.basemaps)) {
            const radio = el("input", { type: "radio", name: "om-basemap", value: id, "data-basemap": id, checked: id === this.basemapId, onchange: () => this.setBasemap(id) });
            panel.append(el("label", { class: "om-row" }, [radio, el("span", { text: basemap.provider.title })]));
          }
          this.rows.labels = this._row(panel, "labels", "地名（区县/乡镇）", null);
          continue;
        }
        for (const id of members) {
          const view = this.views[id];
          const analysis = this.config.analyses.find((a) => a.id === id);
          this.rows[id] = this._row(panel, id, view ? view.title : analysis.title, view || null);
          const legend = view ? (view.by ? view.classes : null) : analysis.legend || (analysis.colour ? [["未覆盖区域", analysis.colour]] : null);
          if (legend) {
            panel.append(el("div", { class: "om-legend", "data-legend": id }, legend.map(([name, colour]) =>
              el("span", {}, [el("span", { class: "om-swatch", style: `background:${colour}` }), document.createTextNode(name)]))));
          }
          if (view && view.id === "reservoirs") panel.append(el("div", { class: "om-legend" }, [el("span", { class: "om-swatch", style: "background:#fff;border:2px solid #f00" }), document.createTextNode("红框：超汛限水位")]));
          if (view && view.size_by) panel.append(el("div", { class: "om-legend", text: "图标大小：容纳人数" }));
        }
      }
      this.groupBoxes = groupBoxes;
      this.status = el("div", { class: "om-status", id: "om-status", text: "连接中…" });
      this.userBox = el("div", { class: "om-status", id: "om-user" });
      panel.append(this.status, this.userBox);
      this.fetchJSON("/auth/me").then((me) => {
        this.me = me;
        const logout = el("form", { method: "post", action: "/logout", style: "display:inline" }, [el("button", { class: "om-button", type: "submit", text: "退出", style: "font-size:13px;padding:2px 8px;min-height:0" })]);
        this.userBox.replaceChildren(document.createTextNode(`${me.username}（${{ viewer: "查看", editor: "编辑", admin: "管理" }[me.role] || me.role}） `), me.username === "open" ? "" : logout);
      }).catch(() => {});
      const control = L.control({ position: "topright" });
      control.onAdd = () => { L.DomEvent.disableClickPropagation(panel); L.DomEvent.disableScrollPropagation(panel); return panel; };
      control.addTo(this.map);
    }

    _row(panel, id, title, view) {
      const box = el("input", { type: "checkbox", "data-layer": id, onchange: (e) => this.setVisible(id, e.target.checked) });
      const sample = view ? el("span", { class: "om-swatch", style: `background:${view.colour}` }) : null;
      const count = el("span", { class: "om-count", "data-count": id });
      const row = el("label", { class: "om-row" }, [box, sample, el("span", { text: title }), count]);
      panel.append(row);
      return { box, count, row };
    }

    _updateRow(id) {
      const row = this.rows[id];
      const state = this.layers[id];
      if (!row || !state) return;
      const total = state.total === null ? "" : NUMBER.format(state.total);
      row.count.textContent = total;
      row.count.title = `视图内 ${state.returned} / 全部 ${total}`;
      if (state.matched > state.returned) row.count.textContent = `${total}（仅显示 ${state.returned}）`;
    }

    _syncPanel() {
      for (const [id, row] of Object.entries(this.rows)) {
        row.box.checked = this.visible.has(id);
        row.row.classList.toggle("om-off", !row.box.checked);
      }
      for (const { box, members } of Object.values(this.groupBoxes)) {
        const on = members.filter((id) => this.visible.has(id)).length;
        box.checked = on === members.length && members.length > 0;
        box.indeterminate = on > 0 && on < members.length;
      }
      for (const input of document.querySelectorAll("input[data-basemap]")) input.checked = input.value === this.basemapId;
    }

    async _loadCounts(only) {
      try {
        const body = await this.fetchJSON("/collections");
        for (const collection of body.collections) {
          if (!this.layers[collection.id] || (only && !only.includes(collection.id))) continue;
          const view = this.views[collection.id];
          if (view && view.filters && Object.keys(view.filters).length) {
            // A filtered layer (closures in force) counts what it draws, not every stored row.
            const params = new URLSearchParams({ limit: "1", ...view.filters });
            const matched = await this.fetchJSON(`/collections/${encodeURIComponent(collection.id)}/items?${params}`);
            this.layers[collection.id].total = matched.numberMatched;
          } else {
            this.layers[collection.id].total = collection.numberOfFeatures;
          }
          this._updateRow(collection.id);
        }
      } catch (error) {
        this.notify(`图层列表加载失败：${error.message}`, true);
      }
    }

    // ---- view in the URL hash: #z/lat/lon/layers=a,b/base=id --------------------------------
    _writeHash() {
      if (this._applyingHash) return;
      const c = this.map.getCenter();
      const parts = [this.map.getZoom(), c.lat.toFixed(5), c.lng.toFixed(5), "layers=" + [...this.visible].join(",")];
      if (this.basemapId !== this.config.basemaps[0].id) parts.push("base=" + this.basemapId);
      history.replaceState(null, "", "#" + parts.join("/"));
    }
    _readHash() {
      const parts = decodeURIComponent(location.hash.replace(/^#/, "")).split("/");
      if (parts.length < 3) return false;
      const [z, lat, lon] = parts.slice(0, 3).map(Number);
      if (![z, lat, lon].every(Number.isFinite)) return false;
      this._applyingHash = true;
      for (const part of parts.slice(3)) {
        if (part.startsWith("layers=")) {
          const names = part.slice(7).split(",").filter((n) => n);
          this.visible = new Set(names.filter((n) => this.layers[n] || this.analyses[n] || n === "labels"));
        } else if (part.startsWith("base=")) {
          this.setBasemap(part.slice(5));
        }
      }
      this.map.setView([lat, lon], z);
      this._applyingHash = false;
      return true;
    }
    _defaultView() {
      // The city's outline bounds come in the config, so the first view is the city every time.
      const [w, s, e, n] = this.config.city_bbox;
      this.map.fitBounds([[s, w], [n, e]]);
    }

    // ---- search ------------------------------------------------------------------------------
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
    }

    showHit(hit) {
      this.searchLayer.clearLayers();
      const at = this.ll(hit.lon, hit.lat);
      const content = el("div", { class: "om-popup" }, [
        el("h4", { text: hit.name }),
        el("div", { class: "om-actions" }, [el("button", { class: "om-button", type: "button", text: "在此标绘事件", onclick: () => this.openIncidentForm(hit.lon, hit.lat) })]),
      ]);
      L.circleMarker(at, { radius: 16, color: "#000", weight: 3, fillOpacity: 0 }).addTo(this.searchLayer).bindPopup(content).openPopup();
      this.map.setView(at, Math.max(this.map.getZoom(), 14));
    }

    // ---- toolbar: incident, closure, fullscreen, export, print -------------------------------
    _buildToolbar() {
      const bar = el("div", { class: "om-toolbar" });
      const button = (id, text, title, handler) => { const b = el("button", { class: "om-button", id, type: "button", text, title, onclick: handler }); bar.append(b); return b; };
      this.incidentButton = button("om-incident-mode", "标绘事件", "点击地图标绘事件，分析最近的救援力量", () => this.setMode(this.mode === "incident" ? null : "incident"));
      this.closureButton = button("om-closure-mode", "绘制封闭区", "依次点击多边形顶点，双击或“完成”结束", () => this.setMode(this.mode === "closure" ? null : "closure"));
      this.finishButton = button("om-closure-finish", "完成", "结束绘制封闭区", () => this._finishClosure());
      this.finishButton.style.display = "none";
      button("om-fullscreen", "全屏", "全屏显示", () => {
        if (document.fullscreenElement) document.exitFullscreen(); else document.documentElement.requestFullscreen().catch(() => this.notify("浏览器不允许全屏", true));
      });
      button("om-export", "导出图片", "将当前视图导出为 PNG", () => this.exportPng());
      button("om-print", "打印", "打印当前视图", () => window.print());
      const control = L.control({ position: "topleft" });
      control.onAdd = () => { L.DomEvent.disableClickPropagation(bar); return bar; };
      control.addTo(this.map);
    }

    setMode(mode) {
      if (this.mode === "closure" && mode !== "closure") { this.drawing = []; this.drawLayer.clearLayers(); }
      this.mode = mode;
      this.incidentButton.classList.toggle("om-active", mode === "incident");
      this.closureButton.classList.toggle("om-active", mode === "closure");
      this.finishButton.style.display = mode === "closure" ? "" : "none";
      this.map.getContainer().classList.toggle("om-picking", Boolean(mode));
      if (mode === "closure") this.map.doubleClickZoom.disable(); else this.map.doubleClickZoom.enable();
    }

    _onMapClick(event) {
      if (this.mode === "incident") {
        const [lon, lat] = this.lonlat(event.latlng);
        this.setMode(null);
        this.openIncidentForm(lon, lat);
      } else if (this.mode === "closure") {
        this.drawing.push(event.latlng);
        this.drawLayer.clearLayers();
        L.polygon(this.drawing, { color: "#08519c", dashArray: "6 4", fillOpacity: 0.2 }).addTo(this.drawLayer);
        for (const point of this.drawing) L.circleMarker(point, { radius: 5, color: "#08519c" }).addTo(this.drawLayer);
      }
    }

    openIncidentForm(lon, lat) {
      const kind = el("select", { id: "om-incident-kind" }, this.config.incident_kinds.map((k) => el("option", { value: k, text: k })));
      const name = el("input", { id: "om-incident-name", type: "text", maxlength: "200", placeholder: "名称（可空）" });
      const form = el("form", { class: "om-popup om-form", id: "om-incident-form" }, [
        el("h4", { text: "标绘事件" }),
        el("div", { class: "om-sub", text: `${lon.toFixed(5)}, ${lat.toFixed(5)}` }),
        el("label", {}, [document.createTextNode("事件类型"), kind]),
        el("label", {}, [document.createTextNode("名称"), name]),
        el("div", { class: "om-actions" }, [el("button", { class: "om-button", type: "submit", id: "om-incident-save", text: "保存并分析" })]),
      ]);
      form.addEventListener("submit", async (e) => {
        e.preventDefault();
        this.map.closePopup();
        try {
          const feature = await this.sendJSON("POST", "/incidents", { lon, lat, kind: kind.value, name: name.value.trim() || null });
          this.loadLayer("incidents", true);
          this.analyse({ lon, lat, id: feature.id, name: feature.properties.name });
        } catch (error) {
          this.notify(`事件未保存：${error.message}`, true);
        }
      });
      L.popup({ maxWidth: 320 }).setLatLng(this.ll(lon, lat)).setContent(form).openOn(this.map);
    }

    async _finishClosure() {
      if (this.drawing.length < 3) { this.notify("封闭区至少需要 3 个顶点", true); return; }
      const ring = this.drawing.map((p) => this.lonlat(p));
      ring.push(ring[0]);
      const at = this.drawing[0];
      this.setMode(null);
      const cause = el("select", { id: "om-closure-cause" }, this.config.closure_causes.map((c) => el("option", { value: c, text: c })));
      const form = el("form", { class: "om-popup om-form" }, [
        el("h4", { text: "道路封闭" }),
        el("label", {}, [document.createTextNode("原因"), cause]),
        el("div", { class: "om-actions" }, [el("button", { class: "om-button", type: "submit", id: "om-closure-save", text: "保存" })]),
      ]);
      form.addEventListener("submit", async (e) => {
        e.preventDefault();
        this.map.closePopup();
        try {
          await this.sendJSON("POST", "/closures", { geometry: { type: "Polygon", coordinates: [ring] }, cause: cause.value });
          await this._closuresChanged();
        } catch (error) {
          this.notify(`封闭区未保存：${error.message}`, true);
        }
      });
      L.popup().setLatLng(at).setContent(form).openOn(this.map);
      this.drawLayer.clearLayers();
      this.drawing = [];
    }

    async _closuresChanged() {
      await this.loadLayer("road_closures", true);
      this._loadCounts(["road_closures"]);
      if (this.incident) this.analyse(this.incident);
    }

    async _liftClosure(id) {
      this.map.closePopup();
      try {
        await this.sendJSON("POST", `/closures/${encodeURIComponent(id)}/lift`);
        await this._closuresChanged();
      } catch (error) {
        this.notify(`解除失败：${error.message}`, true);
      }
    }

    async _patchIncident(id, status) {
      this.map.closePopup();
      try {
        await this.sendJSON("PATCH", `/incidents/${encodeURIComponent(id)}`, { status });
        this.loadLayer("incidents", true);
      } catch (error) {
        this.notify(`状态未更新：${error.message}`, true);
      }
    }

    async _updateLevel(id, properties) {
      const text = window.prompt(`${properties.name} 当前水位 (m)，汛限水位 ${properties.flood_limit_level_m ?? "—"} m`, properties.current_level_m ?? "");
      if (text === null || text.trim() === "") return;
      const level = Number(text);
      if (!Number.isFinite(level)) { this.notify("水位须为数字 (m)", true); return; }
      this.map.closePopup();
      try {
        await this.sendJSON("POST", `/reservoirs/${encodeURIComponent(id)}/level`, { current_level_m: level });
        this.loadLayer("reservoirs", true);
      } catch (error) {
        this.notify(`水位未更新：${error.message}`, true);
      }
    }

    async exportPng() {
      try {
        const container = this.map.getContainer();
        // html-to-image copies attributes, not the live "checked" state: mirror it, or every
        // layer in the exported legend shows unticked.
        for (const input of container.querySelectorAll("input[type=checkbox], input[type=radio]")) input.toggleAttribute("checked", input.checked);
        // skipFonts: the page uses the system's fonts only; scanning every stylesheet for web
        // fonts to embed is most of the time an export takes.
        const url = await htmlToImage.toPng(container, { skipFonts: true, filter: (node) => !(node.classList && (node.classList.contains("om-toolbar") || node.classList.contains("om-search"))) });
        const link = el("a", { href: url, download: `onemap-${new Date().toISOString().slice(0, 19).replace(/[:T]/g, "")}.png` });
        document.body.append(link);
        link.click();
        link.remove();
      } catch (error) {
        this.notify(`导出失败：${error.message || error}`, true);
      }
    }

    // ---- coordinates under the cursor --------------------------------------------------------
    _buildCoordinates() {
      const box = el("div", { class: "om-coords", id: "om-coords", text: "经度 —  纬度 —" });
      this.map.on("mousemove", (e) => { const [lon, lat] = this.lonlat(e.latlng); box.textContent = `经度 ${lon.toFixed(5)}  纬度 ${lat.toFixed(5)}`; });
      const control = L.control({ position: "bottomleft" });
      control.onAdd = () => box;
      control.addTo(this.map);
    }

    // ---- incident analysis -------------------------------------------------------------------
    _buildSide() {
      this.side = el("div", { class: "om-panel om-side", id: "om-side" });
      const control = L.control({ position: "topleft" });
      control.onAdd = () => { L.DomEvent.disableClickPropagation(this.side); L.DomEvent.disableScrollPropagation(this.side); return this.side; };
      control.addTo(this.map);
    }

    async analyse(incident) {
      // The server routes around the closures in force (road_closures) and says which it used.
      this.incident = incident;
      const seq = (this._analysisSeq = (this._analysisSeq || 0) + 1);
      const { lon, lat } = incident;
      this.side.classList.add("om-open");
      this.side.replaceChildren(el("h2", { text: `事件：${incident.name || ""}` }), el("div", { text: "正在分析…" }));
      const params = new URLSearchParams({ lon, lat, layers: this.config.resource_layers.join(","), k: String(this.k) });
      const areaParams = new URLSearchParams({ lon, lat, minutes: "5,10,15" });
      const settle = (promise) => promise.then((value) => ({ value }), (error) => ({ error }));
      const [nearest, areas, situation, risk] = await Promise.all([
        settle(this.fetchJSON("/routing/nearest?" + params)),
        settle(this.fetchJSON("/routing/areas?" + areaParams)),
        settle(this.fetchJSON("/map/situation?" + new URLSearchParams({ lon, lat }))),
        settle(this.fetchJSON("/risk/at?" + new URLSearchParams({ lon, lat }))),
      ]);
      if (seq !== this._analysisSeq) return;
      const used = nearest.value && nearest.value.closures ? nearest.value.closures.stored_closures.length : 0;
      this._drawIncident(incident, nearest, areas, situation, risk, used);
    }

    _drawIncident(incident, nearest, areas, situation, risk, closed) {
      const { lon, lat } = incident;
      this.routeLayer.clearLayers();
      const areaLayer = this.analyses.service_areas;
      areaLayer.clearLayers();
      const here = this.ll(lon, lat);
      const colours = { rescue_stations: "#d7191c", supply_depots: "#8c510a", shelters: "#1a9641" };
      const titles = { rescue_stations: "救援力量", supply_depots: "物资储备", shelters: "避难场所" };
      const close = el("button", { class: "om-button om-close", type: "button", text: "关闭", onclick: () => this.clearIncident() });
      const kSelect = el("select", { id: "om-k", onchange: (e) => { this.k = Number(e.target.value); this.analyse(this.incident); } },
        [1, 3, 5, 10].map((k) => el("option", { value: k, text: `每类 ${k} 个`, selected: k === this.k })));
      const share = incident.id ? el("button", { class: "om-button", type: "button", id: "om-share", text: "分享给现场", title: "生成只读链接（24 小时有效），发给现场队伍", onclick: () => this.shareIncident(incident) }) : null;
      const children = [close, share, el("h2", { text: `事件：${incident.name || ""}` }), el("div", { class: "om-sub", id: "om-closures-used", text: `${lon.toFixed(5)}, ${lat.toFixed(5)}${closed ? ` · 已避开 ${closed} 处封闭区` : ""}` }), kSelect];

      // risk level at the point
      const riskBox = el("div", { id: "om-risk" });
      if (risk.value) {
        const colour = this.config.risk_colours[risk.value.level] || "#ccc";
        riskBox.append(document.createTextNode("风险等级："), el("span", { class: "om-risk-badge", style: `background:${colour};color:${isLight(colour) ? "#000" : "#fff"}`, text: risk.value.level }), document.createTextNode(`  评分 ${risk.value.score.toFixed(3)}`));
      } else {
        riskBox.textContent = `风险等级：${risk.error && risk.error.status === 400 ? "不在区划范围内" : "暂不可用"}`;
      }
      children.push(riskBox);

      // residents within 1/3/5 km, with rings
      if (situation.value) {
        const rings = situation.value.residents_within_km;
        children.push(el("h4", { text: "周边常住人口" }), el("table", { id: "om-residents" }, Object.entries(rings).map(([km, persons]) =>
          el("tr", { "data-km": km }, [el("th", { text: `${km} km 内` }), el("td", { class: "om-num", text: `${NUMBER.format(Math.round(persons))} 人` })]))));
        for (const km of Object.keys(rings)) L.circle(here, { radius: Number(km) * 1000, color: "#555", weight: 1, dashArray: "4 6", fill: false, interactive: false }).addTo(this.routeLayer);
      }

      // nearest resources: routes and the ETA table
      const bounds = L.latLngBounds([here]);
      if (nearest.value) {
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
              el("td", { class: "om-num", text: reachable ? `${p.travel_time_min.toFixed(1)} 分钟` : "不可达" }),
              el("td", { class: "om-num", text: reachable ? `${p.distance_km.toFixed(2)} km` : "" }),
            ]));
            if (!reachable || !feature.geometry) continue;
            const route = L.geoJSON(feature.geometry, {
              coordsToLatLng: (c) => this.ll(c[0], c[1]),
              style: { color: colours[layer], weight: p.rank === 1 ? 7 : 4, opacity: p.rank === 1 ? 0.9 : 0.6, className: `om-route om-route-${layer}` },
            }).bindTooltip(textTip(`${titles[layer]} 第${p.rank}名 ${p.name}：${p.travel_time_min.toFixed(1)} 分钟，${p.distance_km.toFixed(2)} km`));
            route.addTo(this.routeLayer);
            bounds.extend(route.getBounds());
            const start = feature.geometry.coordinates[0];
            const etaText = el("div", { class: "om-eta", text: `${p.rank}·${p.travel_time_min.toFixed(1)}分` });
            etaText.style.color = colours[layer];
            const eta = L.divIcon({ html: etaText, className: "om-eta-wrap", iconSize: null, iconAnchor: [-8, 10] });
            L.marker(this.ll(start[0], start[1]), { icon: eta, interactive: false, keyboard: false }).addTo(this.routeLayer);
          }
          children.push(el("h4", { text: titles[layer] }), el("table", { class: "om-eta-table", "data-layer": layer }, [
            el("tr", {}, ["#", "名称", "用时", "路程"].map((h) => el("th", { text: h }))), ...rows]));
        }
      } else {
        children.push(el("div", { class: "om-warn", id: "om-route-error", text: `路径分析失败：${nearest.error.message}` }));
      }

      // service areas
      if (areas.value) {
        const bands = { 5: "#1a9850", 10: "#fee08b", 15: "#d73027" };
        const features = [...areas.value.features].sort((a, b) => b.properties.minutes - a.properties.minutes);
        for (const feature of features) {
          if (!feature.geometry) continue;
          const colour = bands[feature.properties.minutes] || "#999";
          L.geoJSON(feature.geometry, { coordsToLatLng: (c) => this.ll(c[0], c[1]), style: { color: colour, weight: 2, fillColor: colour, fillOpacity: 0.07, className: "om-p-service_areas" } })
            .bindTooltip(textTip(`${feature.properties.minutes} 分钟车程：常住人口 ${NUMBER.format(Math.round(feature.properties.residents || 0))} 人`)).addTo(areaLayer);
        }
        if (!this.visible.has("service_areas")) this.setVisible("service_areas", true);
      }

      L.marker(here, { icon: L.divIcon({ html: badge(["om-icon", "om-incident"], 40, "#d7191c", "事", 22), className: "om-incident-here", iconSize: [40, 40], iconAnchor: [20, 20] }), zIndexOffset: 1000 }).addTo(this.routeLayer);
      this.side.replaceChildren(...children);
      this.map.fitBounds(bounds.pad(0.15), { maxZoom: 14 });
    }

    async shareIncident(incident) {
      const layers = this.config.resource_layers.filter((id) => this.visible.has(id));
      try {
        const link = await this.sendJSON("POST", "/shares", { incident_id: incident.id, layers: layers.length ? layers : this.config.resource_layers, k: Math.min(this.k, 5) });
        const url = location.origin + link.url;
        const box = el("div", { class: "om-popup", id: "om-share-link" }, [
          el("h4", { text: "现场链接（只读）" }),
          el("input", { type: "text", readonly: true, value: url, style: "width:100%;font-size:14px", onfocus: (e) => e.target.select() }),
          el("div", { class: "om-sub", text: `有效期至 ${new Date(link.expires_at).toLocaleString("zh-CN", { hour12: false })}；可在“分享链接”列表中撤销` }),
        ]);
        if (navigator.clipboard) navigator.clipboard.writeText(url).catch(() => {});
        L.popup({ maxWidth: 420 }).setLatLng(this.ll(incident.lon, incident.lat)).setContent(box).openOn(this.map);
      } catch (error) {
        this.notify(`链接未生成：${error.message}`, true);
      }
    }

    clearIncident() {
      this.incident = null;
      this.routeLayer.clearLayers();
      this.analyses.service_areas.clearLayers();
      this.side.classList.remove("om-open");
    }

    // ---- live: poll the change tokens, refetch what changed ----------------------------------
    async _poll() {
      let body;
      try {
        const response = await fetch("/map/live", { cache: "no-store" });
        if (response.status === 401) { location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search); return; }
        if (!response.ok) throw new Error(`${response.status}`);
        body = await response.json();
      } catch (error) {
        this.status.textContent = "连接中断，正在重试…";
        this.status.style.color = "#d7191c";
        return;
      }
      this.status.style.color = "";
      this.status.textContent = `实时更新 · ${new Date().toLocaleTimeString("zh-CN", { hour12: false })}`;
      const previous = this.versions;
      this.versions = body.versions;
      if (!previous) return;
      const changed = Object.keys(body.versions).filter((layer) => previous[layer] !== body.versions[layer]);
      if (!changed.length) return;
      this._loadCounts(changed);
      for (const layer of changed) {
        if (!this.layers[layer]) continue;
        const result = await this.loadLayer(layer, true);
        if (layer === "incidents" && result) {
          const fresh = result.features.filter((f) => !result.previous.has(f.id));
          if (fresh.length) this.notify(`新事件：${fresh.map((f) => f.properties.name).join("、")}`);
        }
        if (layer === "reservoirs" && result) {
          const alerts = result.features.filter((f) => f.properties.above_flood_limit).length;
          if (alerts) this.notify(`水库水位更新：视图内 ${alerts} 座超汛限`);
        }
        if (layer === "road_closures" && this.incident) this.analyse(this.incident);
      }
    }
  }

  // ---- start: the page holds no inline script; the config is a JSON data block -------------
  function start() {
    const config = JSON.parse(document.getElementById("onemap-config").textContent);
    const [w, s, e, n] = config.city_bbox;
    const map = L.map("om-map", { center: [(s + n) / 2, (w + e) / 2], zoom: 9, zoomControl: !config.wall, preferCanvas: false });
    L.control.scale({ imperial: false, metric: true }).addTo(map);
    window.onemap = new WallMap(map, config);
  }

  if (document.getElementById("onemap-config")) start();
})();
