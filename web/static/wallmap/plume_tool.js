/* The chemical-release tool of the wall map (onemap's own code), for editors: the release point (a
 * click on the map, or the selected incident), an arrow dragged by its head the way the gas goes
 * — the wind it means shown live —, the release's parameters, and 计算: POST /scenarios (through
 * its 202s), then the zones drawn and the scenario's popup opened (scenarios.js). Methods of
 * WallMap (app.js); the arithmetic is wind.js's. */

import { el, textTip } from "../shared/dom.js";
import { formatCoordinates } from "../shared/format.js";
import { canEdit } from "./scenarios.js";
import { arrowFromWind, arrowHead, bearingDeg, describeWind, destination } from "./wind.js";

const ARROW_PX = 150;       // the arrow's length on screen when it is placed
const ARROW_COLOUR = "#1f3a93";
const STABILITY = [["A", "A 极不稳定"], ["B", "B 不稳定"], ["C", "C 弱不稳定"], ["D", "D 中性"], ["E", "E 弱稳定"], ["F", "F 稳定"]];
const CHLORINE_AEGL_MG_M3 = [58, 5.8, 1.5]; // chlorine AEGL-3/-2/-1 for 60 min (20 / 2 / 0.5 ppm)

export const plumeMethods = {
  _buildPlumeTool() {
    this.plume = null;
    this.plumeWindFrom = 180; // the arrow of the first release points north; later ones keep the last wind
    this.plumeButton = el("button", { class: "om-button", id: "om-plume-mode", type: "button", text: "危化品泄漏推演", title: "点选泄漏点，拖动箭头设置风向，计算烟羽影响区", hidden: true,
      onclick: () => (this.plume ? this.closePlume() : this.startPlume()) });
    this.finishButton.after(this.plumeButton);
    this.plumePanel = el("div", { class: "om-panel om-plume", id: "om-plume" });
    const control = L.control({ position: "topleft" });
    control.onAdd = () => { L.DomEvent.disableClickPropagation(this.plumePanel); L.DomEvent.disableScrollPropagation(this.plumePanel); return this.plumePanel; };
    control.addTo(this.map);
    this.map.createPane("om-plume").style.zIndex = 460; // the arrow above the scenarios' zones
    this.plumeLayer = L.featureGroup().addTo(this.map);
    this.map.on("click", (event) => { if (this.mode === "plume") this._placeRelease(...this.lonlat(event.latlng)); });
    this.map.on("zoomend", () => this._rescaleArrow());
  },

  /** The role is known (or changed): the tool is for editors. */
  _roleChanged() {
    this.plumeButton.hidden = !canEdit(this.me);
    if (this.plume && !canEdit(this.me)) this.closePlume();
  },

  startPlume() {
    this.plume = { lon: null, lat: null, head: null, incidentId: null, draft: null };
    this.plumeButton.classList.add("om-active");
    document.body.classList.add("om-plume-open");
    this._plumeForm();
    if (this.incident) {
      this.plume.incidentId = this.incident.id || null;
      this._placeRelease(this.incident.lon, this.incident.lat);
    } else {
      this._pickRelease();
    }
  },

  closePlume() {
    this.plume = null;
    this.plumeLayer.clearLayers();
    this.plumePanel.replaceChildren();
    this.plumeButton.classList.remove("om-active");
    document.body.classList.remove("om-plume-open");
    if (this.mode === "plume") this.setMode(null);
  },

  _pickRelease() {
    this.setMode("plume");
    this.plumeWind.textContent = "请在地图上点击泄漏点";
  },

  /** The release point at (lon, lat), the arrow from it the way the last wind blew. */
  _placeRelease(lon, lat) {
    this.setMode(null);
    Object.assign(this.plume, { lon, lat });
    const tail = this.ll(lon, lat);
    this.plume.head = destination(lon, lat, arrowFromWind(this.plumeWindFrom), this._arrowMetres());
    this.plumeLayer.clearLayers();
    const style = { pane: "om-plume", color: ARROW_COLOUR, opacity: 0.95, interactive: false };
    this.plumeShaft = L.polyline([], { ...style, weight: 7, lineCap: "butt", className: "om-plume-shaft" }).addTo(this.plumeLayer);
    this.plumeTip = L.polygon([], { ...style, weight: 1, fillColor: ARROW_COLOUR, fillOpacity: 0.95, className: "om-plume-tip" }).addTo(this.plumeLayer);
    L.circleMarker(tail, { pane: "om-plume", radius: 8, color: "#fff", weight: 3, fillColor: "#d7191c", fillOpacity: 1, interactive: false, className: "om-plume-source" }).addTo(this.plumeLayer);
    const icon = L.divIcon({ className: "om-plume-handle", iconSize: [34, 34], iconAnchor: [17, 17] });
    this.plumeHandle = L.marker(this.ll(...this.plume.head), { icon, draggable: true, keyboard: false, zIndexOffset: 2000, title: "拖动箭头：烟羽飘去的方向" }).addTo(this.plumeLayer);
    this.plumeHandle.bindTooltip(textTip(""), { permanent: true, direction: "right", offset: [20, 0], className: "om-plume-label" });
    this.plumeHandle.on("drag", () => { this.plume.head = this.lonlat(this.plumeHandle.getLatLng()); this._drawArrow(); });
    this.plumePoint.textContent = `泄漏点 ${formatCoordinates(lon, lat)}`;
    this._drawArrow();
    if (!this.map.getBounds().contains(tail)) this.map.panTo(tail);
  },

  /** ARROW_PX on screen at the release point, in metres. */
  _arrowMetres() {
    const tail = this.ll(this.plume.lon, this.plume.lat);
    return this.map.distance(tail, this.map.containerPointToLatLng(this.map.latLngToContainerPoint(tail).add([ARROW_PX, 0])));
  },

  /** After a zoom the arrow is ARROW_PX long again, pointing the same way: it sets a direction,
   * not a distance, and stays a handle of the same size at every zoom. */
  _rescaleArrow() {
    const p = this.plume;
    if (!p || !p.head) return;
    p.head = destination(p.lon, p.lat, bearingDeg(p.lon, p.lat, ...p.head), this._arrowMetres());
    this.plumeHandle.setLatLng(this.ll(...p.head));
    this._drawArrow();
  },

  /** The arrow from the release point to its head, and the wind it means. */
  _drawArrow() {
    const p = this.plume;
    if (!p || !p.head) return;
    const tail = this.ll(p.lon, p.lat), head = this.ll(...p.head);
    const a = this.map.latLngToLayerPoint(tail), b = this.map.latLngToLayerPoint(head);
    const wings = arrowHead([a.x, a.y], [b.x, b.y], { length: 30, halfWidth: 15 });
    const toLatLng = ([x, y]) => this.map.layerPointToLatLng([x, y]);
    const base = wings ? [(wings[0][0] + wings[2][0]) / 2, (wings[0][1] + wings[2][1]) / 2] : [b.x, b.y];
    this.plumeShaft.setLatLngs([tail, toLatLng(base)]);
    this.plumeTip.setLatLngs(wings ? wings.map(toLatLng) : []);
    const wind = describeWind(bearingDeg(p.lon, p.lat, ...p.head));
    this.plumeWindFrom = wind.windFrom;
    this.plumeWind.textContent = wind.text;
    this.plumeWind.dataset.windFrom = String(wind.windFrom);
    this.plumeHandle.setTooltipContent(textTip(`${wind.windName} ${wind.windFrom}°`));
  },

  _plumeForm() {
    // no limits in the form: the API checks every value once and says what is wrong
    const number = (id, value, placeholder) => el("input", { id, type: "number", value, step: "any", placeholder });
    const inputs = {
      speed: number("om-plume-speed", 3), release: number("om-plume-release", 1000), duration: number("om-plume-duration", "", "持续泄漏则空"),
      thresholds: CHLORINE_AEGL_MG_M3.map((t, i) => Object.assign(number(`om-plume-t${i + 1}`, t), { title: ["红区 (AEGL-3)", "橙区 (AEGL-2)", "黄区 (AEGL-1)"][i] })),
      stability: el("select", { id: "om-plume-stability" }, STABILITY.map(([v, text]) => el("option", { value: v, text, selected: v === "D" }))),
      name: el("input", { id: "om-plume-name", type: "text", maxlength: "200", placeholder: "可空" }),
      active: el("input", { id: "om-plume-active", type: "checkbox" }),
    };
    const field = (label, ...nodes) => el("label", {}, [el("span", { text: label }), ...nodes]);
    this.plumeWind = el("div", { class: "om-plume-wind", id: "om-plume-wind" });
    this.plumePoint = el("div", { class: "om-sub", id: "om-plume-point" });
    this.plumeError = el("div", { class: "om-warn", id: "om-plume-error", role: "alert" });
    this.plumeSubmit = el("button", { class: "om-button", type: "submit", id: "om-plume-compute", text: "计算" });
    const form = el("form", { class: "om-form", id: "om-plume-form" }, [
      field("风速 m/s", inputs.speed), field("稳定度", inputs.stability), field("泄漏速率 g/s", inputs.release),
      field("阈值 mg/m³", el("span", { class: "om-plume-thresholds" }, inputs.thresholds)),
      field("持续时间 min", inputs.duration), field("名称", inputs.name),
      el("label", { class: "om-check" }, [inputs.active, el("span", { text: "立即生效 (封闭区内道路)" })]),
      this.plumeError,
      el("div", { class: "om-actions" }, [this.plumeSubmit,
        el("button", { class: "om-button", type: "button", text: "重新选点", onclick: () => this._pickRelease() }),
        el("button", { class: "om-button", type: "button", text: "关闭", onclick: () => this.closePlume() })]),
    ]);
    form.addEventListener("submit", (event) => { event.preventDefault(); this._computePlume(inputs); });
    this.plumePanel.replaceChildren(el("h3", { text: "危化品泄漏推演" }), this.plumeWind, this.plumePoint, form);
  },

  /** POST /scenarios with the arrow's wind and the form's values; the server's reason on failure. */
  async _computePlume(inputs) {
    const p = this.plume;
    if (!p || !p.head) { this.plumeError.textContent = "请先在地图上点击泄漏点"; return; }
    const value = (input) => (input.value.trim() === "" ? null : Number(input.value));
    const body = {
      kind: "plume", lon: p.lon, lat: p.lat, wind_from_deg: this.plumeWindFrom, wind_speed_ms: value(inputs.speed), stability: inputs.stability.value,
      release_g_s: value(inputs.release), thresholds_mg_m3: inputs.thresholds.map(value).filter((t) => t !== null), active: inputs.active.checked,
    };
    if (value(inputs.duration) !== null) body.duration_min = value(inputs.duration);
    if (inputs.name.value.trim()) body.name = inputs.name.value.trim();
    if (p.incidentId) body.incident_id = p.incidentId;
    this.plumeError.textContent = "";
    this.plumeSubmit.disabled = true;
    this.plumeSubmit.textContent = "计算中…";
    let scenario;
    try {
      scenario = await this.sendJSON("POST", "/scenarios", body);
    } catch (error) {
      if (this.plume === p) this.plumeError.textContent = `计算失败：${error.message}`;
      return;
    } finally {
      this.plumeSubmit.disabled = false;
      this.plumeSubmit.textContent = "计算";
    }
    // a recomputed what-if takes the place of the last one on the map (both stay stored as 预案)
    if (p.draft && p.draft !== scenario.id && this.scenarios.get(p.draft)?.status === "预案") {
      this.pinnedScenarios.delete(p.draft);
      this.scenarios.delete(p.draft);
    }
    p.draft = scenario.id;
    this._takeScenario(scenario, { pin: true, open: true });
    if (scenario.status === "生效中") await this._closuresChanged();
  },
};
