/* Live updates of the wall map (onemap's own code): the server pushes which live layer changed
 * (GET /events, through shared/live.js, which polls /map/live when the stream is not to be had);
 * the page loads again what changed and says what is new. Methods of WallMap (app.js). */

import { isChange, subscribe } from "../shared/live.js";

const FIGURES_DELAY_MS = 800;

export const liveMethods = {
  _startLive() {
    this.live = subscribe({
      eventsUrl: "/events",
      pollUrl: "/map/live",
      pollMs: this.config.live_interval_ms,
      poll: (url) => this.api.poll(url),
      onVersion: (layer, version, change) => this._onVersion(layer, version, change),
      onStatus: (mode, error) => this._liveStatus(mode, error),
      EventSourceImpl: window.EventSource,
    });
  },

  _liveStatus(mode, error) {
    if (mode === "error") {
      this.status.textContent = "连接中断，正在重试…";
      this.status.title = error ? error.message : "";
      this.status.style.color = "#d7191c";
      return;
    }
    this.status.style.color = "";
    this.status.title = "";
    const how = mode === "push" ? "实时推送" : "实时更新（轮询）";
    this.status.textContent = `${how} · ${new Date().toLocaleTimeString("zh-CN", { hour12: false })}`;
    this.status.dataset.mode = mode;
  },

  /** A layer's change token: the first ones are where the page starts; a new one, a change. */
  _onVersion(layer, version, change) {
    const changed = isChange(this.versions, layer, version);
    this.versions = { ...(this.versions || {}), [layer]: version };
    if (this.status.dataset.mode === "push") this._liveStatus("push");
    if (changed && layer === "risk") this._riskChanged(version);
    else if (changed && layer === "readings") this._takeReadings(change && change.body);
    else if (changed) this._layerChanged(layer, change && change.body);
  },

  /** New readings: the open charts of the alerting stations that reported are drawn again
   * (`body.readings`: each such station's latest reading; polled pages get no body, and redraw
   * every open chart). */
  _takeReadings(body) {
    const stations = body ? new Set(body.readings.map((r) => r.station)) : null;
    for (const box of document.querySelectorAll(".om-chart[data-station]")) {
      if (!stations || stations.has(box.dataset.station)) this._drawChart(box.dataset.station, box);
    }
  },

  /** A new risk zoning (the gauges moved it): the tiles of the new one, the figures. */
  _riskChanged(version) {
    this._loadFigures();
    const analysis = this.config.analyses.find((a) => a.id === "risk");
    const layer = this.analyses.risk;
    if (!analysis || !layer) return;
    // Not setUrl's own redraw: Leaflet 1.9's redraw takes the map's zoom unrounded, and the wall
    // zooms in quarter steps (tiles of z 9.25 do not exist); taken off and put back, the layer
    // asks for the new tiles at the tile zoom as always.
    layer.setUrl(`${analysis.url}?v=${encodeURIComponent(version)}`, true);
    if (this.map.hasLayer(layer)) {
      layer.removeFrom(this.map);
      layer.addTo(this.map);
    }
  },

  /** The counts and key figures, once for a burst of changes and a moment after them: what
   * changed is drawn first, on every wall at once, before the figures are asked for. */
  _afterChanges(layer) {
    this._countsDue = new Set([...(this._countsDue || []), layer]);
    if (this._figuresTimer) clearTimeout(this._figuresTimer);
    else this._busy(1); // not "ready" while figures are due (data-onemap-ready, for tests and the benchmark)
    this._figuresTimer = setTimeout(() => {
      const layers = [...this._countsDue];
      this._countsDue = new Set();
      this._figuresTimer = null;
      this._loadCounts(layers);
      this._loadFigures();
      this._busy(-1);
    }, FIGURES_DELAY_MS);
  },

  /** `body`: the layer's new state when the event carried it (alerts), drawn without a fetch. */
  async _layerChanged(layer, body) {
    if (layer === "alerts") {
      if (body) this._takeAlerts(body); else this._loadAlerts();
    }
    this._afterChanges(layer);
    if (!this.layers[layer]) return;
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
  },
};
