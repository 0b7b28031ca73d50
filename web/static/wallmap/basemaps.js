/* Basemaps of the wall map (onemap's own code): the providers of the config, one shown at a time;
 * a GCJ-02 provider shifts our WGS 84 data to fit its tiles. Methods of WallMap (app.js). */

export const basemapMethods = {
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
  },

  /** Tiles loading keep the page "not ready" (data-onemap-ready) until they are drawn. */
  _watchTiles(layer) {
    layer.on("loading", () => { this.loadingTiles.add(layer); this._markReady(); });
    layer.on("load remove", () => { this.loadingTiles.delete(layer); this._markReady(); });
  },

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
  },
};
