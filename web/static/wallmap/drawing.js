/* Drawing and editing on the wall map (onemap's own code): the toolbar, placing an incident,
 * drawing a road closure and lifting one, an incident's status, a reservoir's level. Methods of
 * WallMap (app.js). */

import { el } from "../shared/dom.js";
import { formatCoordinates } from "../shared/format.js";

export const drawingMethods = {
  /** A write to the API (`save`, async); when it fails, the ticker says `failed` and the server's reason. */
  async _save(failed, save) {
    try {
      await save();
    } catch (error) {
      this.notify(`${failed}：${error.message}`, true);
    }
  },

  /** A popup form whose submit closes the popup and runs `save` (see _save). */
  _onSubmit(form, failed, save) {
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.map.closePopup();
      this._save(failed, save);
    });
  },

  _buildToolbar() {
    const bar = el("div", { class: "om-toolbar" });
    const button = (id, text, title, handler) => { const b = el("button", { class: "om-button", id, type: "button", text, title, onclick: handler }); bar.append(b); return b; };
    this.incidentButton = button("om-incident-mode", "标绘事件", "点击地图标绘事件，分析最近的救援力量", () => this.setMode(this.mode === "incident" ? null : "incident"));
    this.closureButton = button("om-closure-mode", "绘制封闭区", "依次点击多边形顶点，双击或“完成”结束", () => this.setMode(this.mode === "closure" ? null : "closure"));
    this.finishButton = button("om-closure-finish", "完成", "结束绘制封闭区", () => this._finishClosure());
    this.finishButton.style.display = "none";
    button("om-fullscreen", "全屏", "全屏显示", () => {
      if (document.fullscreenElement) document.exitFullscreen(); else document.documentElement.requestFullscreen().catch((error) => this.notify(`浏览器不允许全屏：${error.message}`, true));
    });
    button("om-export", "导出图片", "将当前视图导出为 PNG", () => this.exportPng());
    button("om-print", "打印", "打印当前视图", () => window.print());
    const control = L.control({ position: "topleft" });
    control.onAdd = () => { L.DomEvent.disableClickPropagation(bar); return bar; };
    control.addTo(this.map);
  },

  setMode(mode) {
    if (this.mode === "closure" && mode !== "closure") { this.drawing = []; this.drawLayer.clearLayers(); }
    this.mode = mode;
    this.incidentButton.classList.toggle("om-active", mode === "incident");
    this.closureButton.classList.toggle("om-active", mode === "closure");
    this.finishButton.style.display = mode === "closure" ? "" : "none";
    this.map.getContainer().classList.toggle("om-picking", Boolean(mode));
    if (mode === "closure") this.map.doubleClickZoom.disable(); else this.map.doubleClickZoom.enable();
  },

  _onMapClick(event) {
    if (this.mode === "incident") {
      const [lon, lat] = this.lonlat(event.latlng);
      this.setMode(null);
      this.openIncidentForm(lon, lat);
    } else if (this.mode === "closure") {
      this.drawing.push(event.latlng);
      this.drawLayer.clearLayers();
      const colour = this.views.road_closures.style.color;
      L.polygon(this.drawing, { color: colour, dashArray: "6 4", fillOpacity: 0.2 }).addTo(this.drawLayer);
      for (const point of this.drawing) L.circleMarker(point, { radius: 5, color: colour }).addTo(this.drawLayer);
    }
  },

  openIncidentForm(lon, lat) {
    const kind = el("select", { id: "om-incident-kind" }, this.config.incident_kinds.map((k) => el("option", { value: k, text: k })));
    const name = el("input", { id: "om-incident-name", type: "text", maxlength: "200", placeholder: "名称（可空）" });
    const form = el("form", { class: "om-popup om-form", id: "om-incident-form" }, [
      el("h4", { text: "标绘事件" }),
      el("div", { class: "om-sub", text: formatCoordinates(lon, lat) }),
      el("label", {}, [document.createTextNode("事件类型"), kind]),
      el("label", {}, [document.createTextNode("名称"), name]),
      el("div", { class: "om-actions" }, [el("button", { class: "om-button", type: "submit", id: "om-incident-save", text: "保存并分析" })]),
    ]);
    this._onSubmit(form, "事件未保存", async () => {
      const feature = await this.sendJSON("POST", "/incidents", { lon, lat, kind: kind.value, name: name.value.trim() || null });
      this.loadLayer("incidents", true);
      this.analyse({ lon, lat, id: feature.id, name: feature.properties.name });
    });
    L.popup({ maxWidth: 320 }).setLatLng(this.ll(lon, lat)).setContent(form).openOn(this.map);
  },

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
    this._onSubmit(form, "封闭区未保存", async () => {
      await this.sendJSON("POST", "/closures", { geometry: { type: "Polygon", coordinates: [ring] }, cause: cause.value });
      await this._closuresChanged();
    });
    L.popup().setLatLng(at).setContent(form).openOn(this.map);
    this.drawLayer.clearLayers();
    this.drawing = [];
  },

  async _closuresChanged() {
    await this.loadLayer("road_closures", true);
    this._loadCounts(["road_closures"]);
    if (this.incident) this.analyse(this.incident);
  },

  _liftClosure(id) {
    this.map.closePopup();
    return this._save("解除失败", async () => {
      await this.sendJSON("POST", `/closures/${encodeURIComponent(id)}/lift`);
      await this._closuresChanged();
    });
  },

  _patchIncident(id, status) {
    this.map.closePopup();
    return this._save("状态未更新", async () => {
      await this.sendJSON("PATCH", `/incidents/${encodeURIComponent(id)}`, { status });
      this.loadLayer("incidents", true);
    });
  },

  async _updateLevel(id, properties) {
    const text = window.prompt(`${properties.name} 当前水位 (m)，汛限水位 ${properties.flood_limit_level_m ?? "—"} m`, properties.current_level_m ?? "");
    if (text === null || text.trim() === "") return;
    const level = Number(text);
    if (!Number.isFinite(level)) { this.notify("水位须为数字 (m)", true); return; }
    this.map.closePopup();
    await this._save("水位未更新", async () => {
      await this.sendJSON("POST", `/reservoirs/${encodeURIComponent(id)}/level`, { current_level_m: level });
      this.loadLayer("reservoirs", true);
    });
  },
};
