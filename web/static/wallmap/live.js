/* Live updates of the wall map (onemap's own code): poll /map/live for the change tokens of the
 * live layers, load again what changed, and say what is new. Methods of WallMap (app.js). */

export const liveMethods = {
  async _poll() {
    let body;
    try {
      body = await this.api.poll("/map/live");
    } catch (error) {
      this.status.textContent = "连接中断，正在重试…";
      this.status.title = error.message;
      this.status.style.color = "#d7191c";
      return;
    }
    if (body === null) return; // on the way to the log-in page
    this.status.style.color = "";
    this.status.title = "";
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
  },
};
