/* The alert panel of the wall map (onemap's own code): the alerts of GET /alerts, gravest first
 * (红 … 蓝), newest first within a colour, resolved ones last; each with its colour, headline,
 * station, time (Beijing) and status; 确认 and 解除 for editors; stations with an unresolved
 * alert pulse in its colour; an optional short tone (Web Audio, off by default) when a new alert
 * arrives. Methods of WallMap (app.js); the pure helpers are exported for web/test. */

import { el } from "../shared/dom.js";

/** The warning colours, least grave first (gis/grades.py WARNING_LEVELS). */
export const LEVELS = ["蓝", "黄", "橙", "红"];
const RESOLVED = "已解除";
const EDITORS = new Set(["editor", "admin"]);

/** Alerts in the panel's order: unresolved before resolved, gravest colour first, newest first. */
export function sortAlerts(alerts) {
  const key = (a) => [a.status === RESOLVED ? 1 : 0, -LEVELS.indexOf(a.level), -Date.parse(a.raised_at)];
  return [...alerts].sort((a, b) => {
    const [x, y] = [key(a), key(b)];
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i] - y[i];
    return String(a.id).localeCompare(String(b.id));
  });
}

/** Station id → the gravest colour of its unresolved alerts. */
export function alertingStations(alerts) {
  const found = new Map();
  for (const a of alerts) {
    if (a.status === RESOLVED) continue;
    const known = found.get(a.station);
    if (!known || LEVELS.indexOf(a.level) > LEVELS.indexOf(known)) found.set(a.station, a.level);
  }
  return found;
}

/** The unresolved alerts whose ids `known` (a Set, or null before the first load) lacks. */
export function newAlerts(known, alerts) {
  if (!known) return [];
  return alerts.filter((a) => a.status !== RESOLVED && !known.has(a.id));
}

/** A time stamp in Beijing time, month-day hour:minute: "05-14 13:05". */
export function beijingTime(value) {
  const parts = new Intl.DateTimeFormat("en-GB", { timeZone: "Asia/Shanghai", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).formatToParts(new Date(value));
  const part = Object.fromEntries(parts.map((p) => [p.type, p.value]));
  return `${part.month}-${part.day} ${part.hour}:${part.minute}`;
}

/** A short tone (two beeps of 880 Hz), made by the Web Audio API: no audio file. */
function beep(context) {
  const now = context.currentTime;
  for (const start of [0, 0.25]) {
    const tone = context.createOscillator();
    const gain = context.createGain();
    tone.frequency.value = 880;
    gain.gain.setValueAtTime(0.0001, now + start);
    gain.gain.exponentialRampToValueAtTime(0.3, now + start + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, now + start + 0.18);
    tone.connect(gain).connect(context.destination);
    tone.start(now + start);
    tone.stop(now + start + 0.2);
  }
}

export const alertMethods = {
  _buildAlerts() {
    this.alerts = [];
    this.alertIds = null;
    this.alerting = new Map();
    this.audio = null;
    const sound = el("input", { type: "checkbox", id: "om-alert-sound", onchange: (e) => this._toggleSound(e.target.checked) });
    this.alertCount = el("span", { class: "om-count", id: "om-alert-count" });
    this.alertList = el("ol", { class: "om-alert-list", id: "om-alert-list" });
    const panel = el("div", { class: "om-panel om-alerts", id: "om-alerts" }, [
      el("h3", {}, [el("span", { text: "预警信息" }), this.alertCount, el("label", { class: "om-sound", title: "新预警时提示音" }, [sound, el("span", { text: "声音" })])]),
      this.alertList,
    ]);
    const control = L.control({ position: "bottomright" });
    control.onAdd = () => { L.DomEvent.disableClickPropagation(panel); L.DomEvent.disableScrollPropagation(panel); return panel; };
    control.addTo(this.map);
    this._loadAlerts();
  },

  _toggleSound(on) {
    // An AudioContext may only start from a user's gesture: this tick is one.
    if (on && !this.audio) this.audio = new AudioContext();
    this.soundOn = on;
  },

  async _loadAlerts() {
    const seq = (this._alertSeq = (this._alertSeq || 0) + 1);
    let body;
    try {
      body = await this.fetchJSON("/alerts");
    } catch (error) {
      this.notify(`预警加载失败：${error.message}`, true);
      return;
    }
    if (seq !== this._alertSeq) return; // a newer load superseded this one
    this._takeAlerts(body);
  },

  /** The body of GET /alerts (fetched, or carried by the change event): shown, and what is new said. */
  _takeAlerts(body) {
    this._alertSeq = (this._alertSeq || 0) + 1; // a load still in flight is older than this
    const fresh = newAlerts(this.alertIds, body.alerts);
    this.alertIds = new Set(body.alerts.map((a) => a.id));
    this._setAlerts(body.alerts);
    if (fresh.length) {
      this.notify(`新预警：${sortAlerts(fresh).map((a) => a.headline).join("；")}`);
      if (this.soundOn && this.audio) beep(this.audio);
    }
  },

  /** Shows `alerts`, and redraws the stations whose pulse changed. */
  _setAlerts(alerts) {
    this.alerts = sortAlerts(alerts);
    const before = [...this.alerting].join();
    this.alerting = alertingStations(this.alerts);
    this._renderAlerts();
    if ([...this.alerting].join() !== before && this.layers.monitoring_stations) this.loadLayer("monitoring_stations", true);
  },

  _alertColour(level) {
    return (this.views.alerts && this.views.alerts.classMap[level]) || "#e31a1c";
  },

  _renderAlerts() {
    if (!this.alertList) return;
    const editor = this.me && EDITORS.has(this.me.role);
    const active = this.alerts.filter((a) => a.status !== RESOLVED).length;
    this.alertCount.textContent = `${active} 条未解除`;
    const items = this.alerts.slice(0, 200).map((a) => {
      const actions = el("div", { class: "om-alert-actions" });
      if (editor && a.status === "已发布") actions.append(el("button", { class: "om-button", type: "button", "data-action": "ack", text: "确认", onclick: () => this._changeAlert(a.id, "ack") }));
      if (editor && a.status !== RESOLVED) actions.append(el("button", { class: "om-button", type: "button", "data-action": "resolve", text: "解除", onclick: () => this._changeAlert(a.id, "resolve") }));
      const badge = el("span", { class: "om-alert-badge", text: a.level, style: `background:${this._alertColour(a.level)}` });
      if (a.level === "黄") badge.classList.add("om-dark");
      return el("li", { class: `om-alert-item${a.status === RESOLVED ? " om-resolved" : ""}`, "data-alert": a.id, "data-station": a.station, "data-level": a.level, "data-status": a.status }, [
        badge,
        el("div", { class: "om-alert-text" }, [
          el("div", { class: "om-alert-headline", text: a.headline || `${a.level}色预警` }),
          el("div", { class: "om-alert-meta" }, [
            el("span", { class: "om-alert-station", text: a.station }),
            el("span", { class: "om-alert-time", text: beijingTime(a.raised_at) }),
            el("span", { class: "om-alert-status", text: a.status }),
          ]),
        ]),
        actions,
      ]);
    });
    if (!items.length) items.push(el("li", { class: "om-alert-none", text: "当前无预警" }));
    this.alertList.replaceChildren(...items);
  },

  async _changeAlert(id, action) {
    let answer;
    try {
      answer = await this.sendJSON("POST", `/alerts/${encodeURIComponent(id)}/${action}`);
    } catch (error) {
      this.notify(`预警${action === "ack" ? "确认" : "解除"}失败：${error.message}`, true);
      return;
    }
    this._setAlerts(this.alerts.map((a) => (a.id === answer.id ? answer : a)));
  },
};
