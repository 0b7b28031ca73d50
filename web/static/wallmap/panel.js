/* The layer panel of the wall map (onemap's own code): groups with tick boxes, a row per layer
 * with its swatch and count, legends by class, the basemap choice, the signed-in user. Methods
 * of WallMap (app.js). */

import { timeBandLegend } from "../shared/colours.js";
import { el } from "../shared/dom.js";
import { NUMBER } from "../shared/format.js";

const ROLE_NAMES = { viewer: "查看", editor: "编辑", admin: "管理" };

/** The legend rows [label, colour] of a layer (its classes) or an analysis, or null. */
function legendOf(view, analysis) {
  if (view) return view.style.color_by ? view.style.class_colors : null;
  if (analysis.kind === "incident") return timeBandLegend();
  return analysis.legend || (analysis.colour ? [["未覆盖区域", analysis.colour]] : null);
}

export const panelMethods = {
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
        const legend = legendOf(view, analysis);
        if (legend) {
          panel.append(el("div", { class: "om-legend", "data-legend": id }, legend.map(([name, colour]) =>
            el("span", {}, [el("span", { class: "om-swatch", style: `background:${colour}` }), document.createTextNode(name)]))));
        }
        if (view && view.id === "reservoirs") panel.append(el("div", { class: "om-legend" }, [el("span", { class: "om-swatch", style: "background:#fff;border:2px solid #f00" }), document.createTextNode("红框：超汛限水位")]));
        if (view && view.style.size_by) panel.append(el("div", { class: "om-legend", text: "图标大小：容纳人数" }));
      }
    }
    this.groupBoxes = groupBoxes;
    this.status = el("div", { class: "om-status", id: "om-status", text: "连接中…" });
    this.userBox = el("div", { class: "om-status", id: "om-user" });
    panel.append(this.status, this.userBox);
    this._showUser();
    const control = L.control({ position: "topright" });
    control.onAdd = () => { L.DomEvent.disableClickPropagation(panel); L.DomEvent.disableScrollPropagation(panel); return panel; };
    control.addTo(this.map);
  },

  /** Who is signed in, with a log-out button (none for the open loopback mode). */
  async _showUser() {
    let me;
    try {
      me = await this.fetchJSON("/auth/me");
    } catch (error) {
      this.userBox.textContent = `用户信息不可用：${error.message}`;
      return;
    }
    this.me = me;
    this._renderAlerts(); // an editor's buttons
    const logout = el("form", { method: "post", action: "/logout", style: "display:inline" }, [el("button", { class: "om-button", type: "submit", text: "退出", style: "font-size:13px;padding:2px 8px;min-height:0" })]);
    this.userBox.replaceChildren(document.createTextNode(`${me.username}（${ROLE_NAMES[me.role] || me.role}） `), me.username === "open" ? "" : logout);
  },

  _row(panel, id, title, view) {
    const box = el("input", { type: "checkbox", "data-layer": id, onchange: (e) => this.setVisible(id, e.target.checked) });
    const sample = view ? el("span", { class: "om-swatch", style: `background:${view.style.color}` }) : null;
    const count = el("span", { class: "om-count", "data-count": id });
    const row = el("label", { class: "om-row" }, [box, sample, el("span", { text: title }), count]);
    panel.append(row);
    return { box, count, row };
  },

  _updateRow(id) {
    const row = this.rows[id];
    const state = this.layers[id];
    if (!row || !state) return;
    const total = state.total === null ? "" : NUMBER.format(state.total);
    row.count.textContent = total;
    row.count.title = `视图内 ${state.returned} / 全部 ${total}`;
    if (state.matched > state.returned) row.count.textContent = `${total}（仅显示 ${state.returned}）`;
  },

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
  },
};
