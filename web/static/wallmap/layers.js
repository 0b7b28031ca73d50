/* The data layers of the wall map (onemap's own code): features of the current view from
 * /collections/{id}/items, drawn in their catalogue style (view.style: glyph, shape, colour by
 * class), their popups, and the counts in the layer panel; the dense layers (view.tiles) are
 * drawn from vector tiles instead (vector_layers.js), with the same popups. Methods of WallMap
 * (app.js). */

import { isLight } from "../shared/colours.js";
import { badge, el } from "../shared/dom.js";
import { formatValue } from "../shared/format.js";

export const layerMethods = {
  _buildDataLayers() {
    for (const view of this.config.layers) {
      if (view.tiles) {
        this.layers[view.id] = { container: this.vectorLayer(view), tiled: true, matched: 0, returned: 0, ids: new Set(), total: null };
        if (view.visible) this.visible.add(view.id);
        continue;
      }
      const container = view.cluster
        ? L.markerClusterGroup({ chunkedLoading: true, disableClusteringAtZoom: 13, maxClusterRadius: 45, showCoverageOnHover: false, iconCreateFunction: (cluster) => this._clusterIcon(view, cluster) })
        : L.featureGroup();
      this.layers[view.id] = { container, box: null, seq: 0, matched: 0, returned: 0, ids: new Set(), total: null };
      if (view.visible) this.visible.add(view.id);
    }
  },

  _clusterIcon(view, cluster) {
    const count = cluster.getChildCount();
    const size = count < 10 ? 34 : count < 100 ? 40 : 48;
    const html = badge(["om-icon", "om-cluster"], size, view.style.color, `${view.style.glyph}${count}`, 15);
    return L.divIcon({ html, className: `om-marker om-c-${view.id}`, iconSize: [size, size] });
  },

  /** A feature's colour: its class's (style.color_by), else the layer's. */
  colourOf(view, properties) {
    return (view.style.color_by && view.classMap[properties[view.style.color_by]]) || view.style.color;
  },

  iconFor(view, properties, id) {
    const { style } = view;
    const colour = this.colourOf(view, properties);
    let size = this.config.wall ? 34 : 28;
    if (style.size_by && properties[style.size_by]) size = Math.round(Math.min(size + 12, size - 8 + Math.sqrt(properties[style.size_by]) / 12));
    const classes = ["om-icon"];
    if (style.shape === "diamond") { classes.push("om-diamond"); size = Math.round(size * 0.8); }
    if (isLight(colour)) classes.push("om-dark");
    if (view.id === "reservoirs" && properties.above_flood_limit) classes.push("om-alert");
    if (view.id === "incidents" && properties.status !== "已结束") classes.push("om-incident");
    const alerting = view.id === "monitoring_stations" && this.alerting && this.alerting.get(id);
    if (alerting) classes.push("om-alerting");
    const html = badge(classes, size, colour, style.glyph, Math.round(size * 0.55));
    if (alerting) { html.style.setProperty("--om-pulse", this._alertColour(alerting)); html.dataset.alertLevel = alerting; }
    return L.divIcon({ html, className: `om-marker om-m-${view.id}`, iconSize: [size, size], iconAnchor: [size / 2, size / 2], popupAnchor: [0, -size / 2] });
  },

  /** The popup of `feature` ({id, properties, geometry}); `at`: [lon, lat] where its actions act
   * (a tiled feature has no geometry here: where it was clicked), else its anchor. */
  popupFor(view, feature, at) {
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
      view.id === "monitoring_stations" ? this.stationChart(feature.id) : null,
      actions,
    ]);
    const button = (text, handler) => actions.append(el("button", { class: "om-button", text, type: "button", onclick: handler }));
    const [lon, lat] = at || this._anchor(feature);
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
  },

  /** Where a feature's actions act: a point itself, else the centre of its bounds. */
  _anchor(feature) {
    const g = feature.geometry;
    if (g.type === "Point") return g.coordinates;
    const bounds = L.geoJSON(g).getBounds();
    return [bounds.getCenter().lng, bounds.getCenter().lat];
  },

  drawFeature(view, feature) {
    if (!feature.geometry) return null;
    if (feature.geometry.type === "Point") {
      const [lon, lat] = feature.geometry.coordinates;
      const marker = L.marker(this.ll(lon, lat), { icon: this.iconFor(view, feature.properties, feature.id), title: feature.properties.name || "", keyboard: false, riseOnHover: true });
      marker.bindPopup(() => this.popupFor(view, feature), { maxWidth: view.id === "monitoring_stations" ? 640 : 360 });
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
  },

  /** Loads layer `id` for the view (padded by 30 %), unless what is drawn already covers it;
   * `force`: load again anyway. Resolves to the features and the ids drawn before, or undefined. */
  async loadLayer(id, force) {
    const state = this.layers[id];
    const view = this.views[id];
    if (!this.visible.has(id)) return undefined;
    if (state.tiled) return this._reloadVectorLayer(id, force);
    const current = this.map.getBounds();
    if (!force && state.box && state.box.contains(current)) return undefined;
    const seq = ++state.seq;
    const box = this.viewBox(0.3);
    const params = new URLSearchParams({ bbox: box.join(","), limit: "10000", ...view.filters });
    let body;
    try {
      body = await this.fetchJSON(`/collections/${id}/items?${params}`);
    } catch (error) {
      this.notify(`${view.title} 加载失败：${error.message}`, true);
      return undefined;
    }
    if (seq !== state.seq) return undefined; // a newer request superseded this one
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
  },

  /** The count of each layer (of `only`, when given) in the layer panel: all its stored
   * features, or for a filtered layer (closures in force) the ones it draws. */
  async _loadCounts(only) {
    try {
      const body = await this.fetchJSON("/collections");
      for (const collection of body.collections) {
        if (!this.layers[collection.id] || (only && !only.includes(collection.id))) continue;
        const view = this.views[collection.id];
        if (view && view.filters && Object.keys(view.filters).length) {
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
  },
};
