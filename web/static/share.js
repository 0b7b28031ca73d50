/* onemap share link (onemap's own code), an ES module: draws the snapshot inlined in the page —
 * incident, route, nearest shelter and depot, closures, scoped layers — on the link's basemap
 * tiles; the user's own position if they allow it; "navigate" hand-offs; and the live situation
 * (the incident's status, warnings and closures in force nearby), pushed by the link's event
 * stream, polled when there is none. Texts from the data go in with textContent. Helpers are the
 * wall map's own (shared/, and the vector-tile styles of wallmap/vector_layers.js); Leaflet and
 * Leaflet.VectorGrid are the global `L`.
 *
 * The link's dense layers in scope (data.vector.tiled: flood-prone areas, say) are drawn from the
 * link's own vector tiles online, from the offline kit's layers archive offline (or when the user
 * chooses the kit), else from the snapshot's GeoJSON. */

import { bandColour, INCIDENT_COLOUR, ROUTE_COLOURS } from "./shared/colours.js";
import { badge, el, motionOptions } from "./shared/dom.js";
import { formatCoordinates, formatDateTime, formatKm, formatMinutes } from "./shared/format.js";
import { isChange, subscribe } from "./shared/live.js";
import { middleLatitude, pathStyle, tileUrl, tipText } from "./wallmap/vector_layers.js";

const data = JSON.parse(document.getElementById("onemap-share").textContent);
const sheet = document.getElementById("sheet");
const base = location.pathname.replace(/\/$/, "");
const glyphs = data.glyphs || {}; // the layers' catalogue glyphs, put in the page by web/share_page.py

function marker(lat, lon, glyph, colour, size, label) {
  const icon = L.divIcon({ html: badge(["om-pin"], size, colour, glyph, Math.round(size * 0.55)), className: "", iconSize: [size, size], iconAnchor: [size / 2, size / 2] });
  const m = L.marker([lat, lon], { icon, title: label || "" });
  if (label) m.bindPopup(() => el("div", { text: label }));
  return m;
}

function navigate(name, lat, lon) {
  const q = encodeURIComponent(name || "");
  return el("div", { class: "actions" }, [
    el("a", { class: "btn primary", href: `geo:${lat},${lon}?q=${lat},${lon}(${q})`, text: "导航" }),
    el("a", { class: "btn", href: `https://uri.amap.com/navigation?to=${lon},${lat},${q}&mode=car&coordinate=wgs84&callnative=1`, rel: "noopener noreferrer", target: "_blank", text: "高德导航" }),
    el("span", { class: "coords", text: formatCoordinates(lat, lon) }),
  ]);
}

const map = L.map("map", { zoomControl: true, attributionControl: false, ...motionOptions() }).setView([data.view.lat, data.view.lon], data.view.zoom);
const linkTiles = L.tileLayer(`${base}/tiles/{z}/{x}/{y}.png`, { minZoom: 8, maxZoom: 18, zIndex: 2 }).addTo(map);
L.control.scale({ imperial: false }).addTo(map);
const bounds = L.latLngBounds([[data.point.lat, data.point.lon]]);
const vector = data.vector || { tiled: [], views: {} }; // put in the page by web/share_page.py
const [west, south, east, north] = data.extent;
const linkArea = L.latLngBounds([south, west], [north, east]); // the link's tiles exist over it only (404 beyond)
const vectorLat = middleLatitude(data.extent);
map.createPane("om-vectors").style.zIndex = 390; // over the basemaps, under the snapshot's overlays

/** How an MVT layer is drawn: its catalogue view (wall map styles), else a plain grey one. */
function viewOf(name) {
  return vector.views[name] || { id: name, title: name, geometry: "Geometry", style: { color: "#555555" }, tile_classes: null, tip: [] };
}

const snapshotLayers = {}; // a tiled layer in scope → its snapshot's GeoJSON, drawn when no tiles can be
for (const [layer, collection] of Object.entries(data.layers || {})) {
  const tiled = vector.tiled.includes(layer);
  const group = tiled ? (snapshotLayers[layer] = L.layerGroup()) : map;
  for (const feature of collection.features) {
    if (!feature.geometry) continue;
    const name = feature.properties.name || feature.id;
    if (feature.geometry.type === "Point") {
      const [lon, lat] = feature.geometry.coordinates;
      marker(lat, lon, glyphs[layer] || "·", ROUTE_COLOURS[layer] || "#555", 24, `${data.titles[layer] || layer}：${name}`).addTo(group);
    } else {
      const style = tiled ? () => ({ ...pathStyle(viewOf(layer), feature.properties, map.getZoom(), vectorLat), className: `om-p-${layer} om-share-snapshot` })
        : { color: "#555", weight: 1, fillOpacity: 0.15 };
      L.geoJSON(feature.geometry, { style }).bindPopup(() => el("div", { text: name })).addTo(group);
    }
  }
}
const closureStyle = { color: "#08519c", weight: 3, dashArray: "8 5", fillColor: "#6baed6", fillOpacity: 0.35, className: "om-share-closure" };
const closures = L.geoJSON(data.closures, { style: closureStyle }).addTo(map);
if (data.service_areas) {
  for (const f of data.service_areas.features) if (f.geometry) L.geoJSON(f.geometry, { style: { color: bandColour(f.properties.minutes), weight: 1, fillOpacity: 0.05, interactive: false } }).addTo(map);
}
for (const f of data.routes.features) {
  const p = f.properties;
  if (!f.geometry || p.reachable === false || p.rank !== 1) continue;
  const line = L.geoJSON(f.geometry, { style: { color: ROUTE_COLOURS[p.layer], weight: 6, opacity: 0.85, className: `om-share-route om-share-route-${p.layer}` } }).addTo(map);
  bounds.extend(line.getBounds());
}
const incidentName = data.incident ? data.incident.name : data.title;
marker(data.point.lat, data.point.lon, glyphs.incidents || "事", INCIDENT_COLOUR, 38, incidentName).addTo(map);
map.fitBounds(bounds.pad(0.15), { maxZoom: data.view.zoom });

let me = null;
let routed = false;
let myRoute = null;

async function routeFrom(here) {
  const box = document.getElementById("my-route");
  try {
    const response = await fetch(`${base}/route?lon=${here[1]}&lat=${here[0]}`, { cache: "no-store" });
    const body = await response.json();
    if (!response.ok) throw new Error(body.description || response.status);
    const trip = body.features[0];
    if (!trip || trip.properties.reachable === false || !trip.geometry) { box.textContent = "道路不通：无法按道路到达事件点"; return; }
    if (myRoute) map.removeLayer(myRoute);
    myRoute = L.geoJSON(trip.geometry, { style: { color: "#1a73e8", weight: 6, opacity: 0.9, dashArray: "10 6", className: "om-share-myroute" } }).addTo(map);
    box.textContent = `驾车到事件点约 ${formatMinutes(trip.properties.travel_time_min)}，${formatKm(trip.properties.distance_km)}`;
  } catch (error) {
    box.textContent = `路线暂不可用：${error.message}`;
  }
}

function locate() {
  if (!navigator.geolocation) { document.getElementById("my-distance").textContent = "此浏览器不能定位"; return; }
  navigator.geolocation.watchPosition((position) => {
    const here = [position.coords.latitude, position.coords.longitude];
    if (!me) {
      me = L.marker(here, { icon: L.divIcon({ html: el("div", { class: "om-me" }), className: "", iconSize: [24, 24], iconAnchor: [12, 12] }) }).addTo(map);
      map.fitBounds(L.latLngBounds([here, [data.point.lat, data.point.lon]]).pad(0.2));
    } else me.setLatLng(here);
    const km = map.distance(here, [data.point.lat, data.point.lon]) / 1000;
    document.getElementById("my-distance").textContent = `距事件点直线 ${km.toFixed(2)} km（精度 ±${Math.round(position.coords.accuracy)} m）`;
    if (!routed) { routed = true; routeFrom(here); }
  }, (error) => { document.getElementById("my-distance").textContent = `无法定位：${error.message}`; }, { enableHighAccuracy: true });
}

// Vector tiles (Leaflet.VectorGrid, SVG): the link's own, /s/{token}/collections/{layer}/tiles/…
// (z/y/x), and the kit's, /s/kit/{z}/{x}/{y}.pbf, which the service worker reads from the archive.
const LAYER = Symbol("MVT layer"); // tagged on each feature's properties: its layer's name
const GEOMETRY = Symbol("MVT geometry type"); // 1 point, 2 line, 3 polygon
let VectorTiles = null;

/** L.VectorGrid.Protobuf whose tiles that fail to arrive are empty (the other tiles still draw),
 * and whose features know their MVT layer (for their popup) and geometry type (for their style). */
function vectorTilesClass() {
  if (VectorTiles) return VectorTiles;
  const Protobuf = L.VectorGrid.Protobuf;
  VectorTiles = Protobuf.extend({
    _getVectorTilePromise(coords) {
      return Protobuf.prototype._getVectorTilePromise.call(this, coords).then((tile) => {
        for (const [name, layer] of Object.entries(tile.layers)) {
          for (const feature of layer.features) Object.defineProperties(feature.properties, { [LAYER]: { value: name }, [GEOMETRY]: { value: feature.type } });
        }
        return tile;
      }, (error) => {
        this.fire("tilefailed", { coords, error });
        return { layers: {} };
      });
    },
  });
  return VectorTiles;
}

/** The style of a feature of `view`: the wall map's; a point as a dot of the layer's colour. */
function vectorStyle(view) {
  return (properties, zoom) => {
    const style = pathStyle(view, properties, zoom, vectorLat);
    if (properties[GEOMETRY] !== 1) return style;
    return { ...style, radius: 6, color: "#ffffff", weight: 1.5, opacity: 1, fill: true, fillColor: style.color, fillOpacity: 0.9 };
  };
}

/** A click on a tiled feature: its layer's title and its text (names and fields), as text. */
function vectorPopup(event) {
  const properties = event.layer.properties;
  const view = viewOf(properties[LAYER]);
  const content = el("div", { class: "om-vpopup" }, [el("strong", { text: view.title }), el("div", { text: tipText(view, properties) })]);
  L.popup({ maxWidth: 300 }).setLatLng(event.latlng).setContent(content).openOn(map);
}

function vectorTiles(url, names, options) {
  const Layer = vectorTilesClass();
  const layer = new Layer(url, {
    pane: "om-vectors", maxZoom: 18, interactive: true, rendererFactory: L.svg.tile,
    vectorTileLayerStyles: Object.fromEntries(names.map((name) => [name, vectorStyle(viewOf(name))])),
    ...options,
  });
  layer.on("click", vectorPopup);
  layer.on("tilefailed", (event) => {
    // offline, tiles still on their way from the network fail as expected (the link's are taken off the
    // map; the kit's come from the worker, which reports its own errors in the card)
    if (!navigator.onLine) return;
    const line = document.getElementById("vector-status");
    line.hidden = false;
    line.textContent = `图层瓦片加载失败：${event.error.message}`;
  });
  return layer;
}

const linkVectors = Object.fromEntries(vector.tiled.map((layer, order) => [layer, vectorTiles(tileUrl(layer, { prefix: base }), [layer], {
  minZoom: 8, bounds: linkArea, zIndex: order + 1, className: `om-share-vectors om-share-vectors-${layer}`,
})]));

// the sheet
const children = [
  el("div", { class: "offline", id: "offline", text: "离线：显示的是缓存的快照" }),
  el("h1", { id: "share-title", text: incidentName }),
  el("div", { class: "sub", id: "share-status", text: data.incident ? `${data.incident.kind} · ${data.incident.status}` : "位置" }),
  el("div", { class: "sub", text: `快照有效期至 ${formatDateTime(data.expires_at)}` }),
  el("div", { class: "sub", id: "vector-status", hidden: true }),
  navigate(incidentName, data.point.lat, data.point.lon),
];
for (const [key, title, layer] of [["shelter", "最近避难场所", "shelters"], ["depot", "最近物资储备点", "supply_depots"], ["rescue", "最近救援力量", "rescue_stations"]]) {
  const best = (data.nearest || {})[key];
  if (!best) continue;
  marker(best.lat, best.lon, glyphs[layer], ROUTE_COLOURS[layer], 32, `${title}：${best.name}`).addTo(map);
  children.push(el("div", { class: "card", id: `nearest-${key}` }, [
    el("h2", { text: `${title}：${best.name}` }),
    el("div", { text: `车程约 ${best.minutes} 分钟，${best.km} km` }),
    navigate(best.name, best.lat, best.lon),
  ]));
}
children.push(el("div", { class: "card", id: "situation" }, [
  el("h2", { text: "现场动态" }),
  el("div", { class: "sub", id: "live-status", text: "连接中…" }),
  el("ul", { class: "alerts", id: "share-alerts" }),
]));
children.push(el("div", { class: "card", id: "kit" }, [
  el("h2", { text: "离线图包" }),
  el("div", { class: "sub", id: "kit-status", text: "未载入：断网时只能显示看过的底图。可打开指挥中心发的 .pmtiles 图包文件。" }),
  el("div", { class: "actions" }, [
    el("label", { class: "btn", for: "kit-file", text: "打开图包文件" }),
    el("input", { type: "file", id: "kit-file", class: "om-file", accept: ".pmtiles", multiple: true, onchange: (event) => openKitFiles(event.target) }),
    el("button", { class: "btn", type: "button", id: "kit-remove", text: "删除图包", onclick: () => removeKit() }),
  ]),
]));
children.push(el("div", { class: "card", id: "my-position" }, [
  el("h2", { text: "我的位置" }),
  el("button", { class: "btn", type: "button", id: "locate", text: "显示我的位置", onclick: locate }),
  el("div", { id: "my-distance" }),
  el("div", { id: "my-route" }),
]));
sheet.replaceChildren(...children);

window.addEventListener("offline", () => { document.getElementById("offline").style.display = "block"; });
window.addEventListener("online", () => { document.getElementById("offline").style.display = "none"; });
// The service worker: it keeps the page for offline use and serves the kit's vector tiles, which
// it can do only for a page it controls (from the first reload after it is installed).
const worker = { controlled: Boolean(navigator.serviceWorker && navigator.serviceWorker.controller), problem: null };
if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/s/sw.js", { scope: "/s/" }).catch((error) => {
    // The page works on; only re-opening it with no network, and the kit's layers, will not.
    worker.problem = error.message;
    sheet.append(el("div", { class: "sub", id: "offline-unavailable", text: `此页不能离线保存（${error.message}）` }));
    refreshKitStatus();
  });
  navigator.serviceWorker.addEventListener("controllerchange", () => { worker.controlled = true; followNetwork(); refreshKitStatus(); });
  // the worker could not read a tile of the kit: say so (the tile is drawn empty)
  navigator.serviceWorker.addEventListener("message", (event) => { if (event.data && event.data.kitError) showKitStatus(new Error(event.data.kitError)); });
} else {
  worker.problem = "此浏览器不支持 Service Worker";
}
// the live situation: pushed by the link's stream, polled when there is none
const colours = data.warning_colours || {};
function showSituation(situation) {
  if (situation.incident) document.getElementById("share-status").textContent = `${situation.incident.kind} · ${situation.incident.status}`;
  const list = document.getElementById("share-alerts");
  list.replaceChildren(...(situation.alerts.length ? situation.alerts.map((a) => el("li", { class: "alert", "data-level": a.level }, [
    el("span", { class: "chip", style: `background:${colours[a.level] || "#999"}`, text: a.level }),
    el("span", { text: ` ${a.headline}（${a.status}）` }),
  ])) : [el("li", { class: "sub", text: "附近 5 公里内无生效预警" })]));
  closures.clearLayers();
  closures.addData(situation.closures);
}

let versions = null;
async function loadSituation() {
  const response = await fetch(`${base}/live`, { cache: "no-store" });
  if (!response.ok) throw new Error(`${response.status}`);
  const body = await response.json();
  versions = body.versions;
  showSituation(body.situation);
  return body;
}

function liveStatus(mode, error) {
  const line = document.getElementById("live-status");
  const time = new Date().toLocaleTimeString("zh-CN", { hour12: false });
  line.textContent = mode === "error" ? `连接中断，正在重试…（${error ? error.message : ""}）` : `${mode === "push" ? "实时推送" : "定时刷新"} · ${time}`;
  line.dataset.mode = mode;
}

function startLive() {
  return subscribe({
    eventsUrl: `${base}/events`,
    pollUrl: `${base}/live`,
    pollMs: 15000,
    poll: async (url) => {
      const response = await fetch(url, { cache: "no-store" });
      if (!response.ok) throw new Error(`${response.status}`);
      const body = await response.json();
      versions = body.versions; // what it shows now: onVersion then finds nothing new
      showSituation(body.situation);
      return body;
    },
    onVersion: (layer, version) => {
      if (isChange(versions, layer, version) || versions === null) loadSituation().catch((error) => liveStatus("error", error));
    },
    onStatus: liveStatus,
    EventSourceImpl: window.EventSource,
  });
}
// Offline (the page from the worker's cache) nothing is asked of the network until it is back.
let live = navigator.onLine ? startLive() : null;
window.addEventListener("offline", () => { if (live) live.close(); live = null; liveStatus("error", new Error("离线")); });
window.addEventListener("online", () => { if (!live) live = startLive(); });
window.addEventListener("pagehide", () => { if (live) live.close(); });

// The offline field kit (离线图包): PMTiles archives written by `onemap export-tiles` — the
// basemap (PNG tiles) and the layers (vector tiles) — opened from the phone, kept in IndexedDB so
// that they survive reloads with no network, and read with the npm `pmtiles` library (the
// classic script /static/pmtiles/pmtiles.js, the global `pmtiles`). The basemap is drawn under
// the link's own tiles, and alone while offline. The layers' archive is drawn offline, or online
// when the user chooses it: the service worker (share-sw.js) answers /s/kit/{z}/{x}/{y}.pbf from
// the archive kept here, and VectorGrid draws those tiles, one style per MVT layer of the archive's
// metadata (vector_layers).
const KIT_DB = "onemap-kit";
const KIT_STORE = "archives";
const KINDS = { 2: "basemap", 1: "layers" }; // PMTiles tile types: 2 PNG, 1 MVT
const kit = { basemap: null, layers: null, layer: null, vectors: null, preferLayers: false, error: null };
const KIT_TILES = "/s/kit/{z}/{x}/{y}.pbf";

function kitDb() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(KIT_DB, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(KIT_STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function kitStore(mode, work) {
  const db = await kitDb();
  try {
    return await new Promise((resolve, reject) => {
      const transaction = db.transaction(KIT_STORE, mode);
      const request = work(transaction.objectStore(KIT_STORE));
      transaction.oncomplete = () => resolve(request ? request.result : undefined);
      transaction.onerror = () => reject(transaction.error);
      transaction.onabort = () => reject(transaction.error || new Error("IndexedDB 事务中止"));
    });
  } finally {
    db.close();
  }
}

/** An archive read from a kept or chosen file: its header and metadata, checked. */
async function readArchive(file) {
  const archive = new window.pmtiles.PMTiles(new window.pmtiles.FileSource(file));
  const header = await archive.getHeader().catch((error) => { throw new Error(`${file.name} 不是 PMTiles 图包（${error.message}）`); });
  const kind = KINDS[header.tileType];
  if (!kind) throw new Error(`${file.name} 不是底图或图层图包（瓦片类型 ${header.tileType}）`);
  const metadata = await archive.getMetadata();
  return { kind, archive, header, metadata, file };
}

function showBasemap(entry) {
  if (kit.layer) map.removeLayer(kit.layer);
  const { header } = entry;
  kit.layer = window.pmtiles.leafletRasterLayer(entry.archive, {
    minZoom: 8, maxZoom: 18, minNativeZoom: header.minZoom, maxNativeZoom: header.maxZoom, zIndex: 1, className: "om-kit-basemap",
    bounds: L.latLngBounds([header.minLat, header.minLon], [header.maxLat, header.maxLon]),
  }).addTo(map);
}

/** The MVT layers of the kit's layers archive (its metadata's vector_layers). */
function kitLayerNames() {
  return kit.layers ? (kit.layers.metadata.vector_layers || []).map((layer) => layer.id).filter((id) => typeof id === "string") : [];
}

function showKitLayers(entry) {
  if (kit.vectors) map.removeLayer(kit.vectors);
  const { header } = entry;
  kit.vectors = vectorTiles(KIT_TILES, kitLayerNames(), {
    minZoom: header.minZoom, minNativeZoom: header.minZoom, maxNativeZoom: header.maxZoom, zIndex: 10, className: "om-kit-vectors",
    bounds: L.latLngBounds([header.minLat, header.minLon], [header.maxLat, header.maxLon]),
  });
}

/** The kit's layers are drawn offline, or online when the user chooses them; only through the
 * service worker (it answers the kit's tile URLs), so only on a page it controls. */
function kitLayersWanted() {
  return Boolean(kit.layers) && (!navigator.onLine || kit.preferLayers);
}

function kitLayersState() {
  if (!worker.controlled) return `不能绘制：此页的离线服务（Service Worker）未启用${worker.problem ? `：${worker.problem}` : "，请联网刷新此页"}`;
  if (kitLayersWanted()) return "已绘制";
  return "联网时显示链接的图层，断网时绘制";
}

function preferKitLayers(prefer) {
  kit.preferLayers = prefer;
  followNetwork();
  refreshKitStatus();
}

function kitLine(entry) {
  const { header, metadata, file } = entry;
  const about = metadata.onemap || {};
  const made = about.generated ? `，${formatDateTime(about.generated)} 生成` : "";
  const title = entry.kind === "basemap" ? "底图" : `图层（${kitLayerNames().length} 个，${kitLayersState()}）`;
  const here = header.minLon <= data.point.lon && data.point.lon <= header.maxLon && header.minLat <= data.point.lat && data.point.lat <= header.maxLat;
  return `${title}：${about.city || file.name} z${header.minZoom}–${header.maxZoom}，${(file.size / 1048576).toFixed(1)} MB${made}${here ? "" : "（不含事件点所在区域）"}`;
}

function showKitStatus(error) {
  kit.error = error || null;
  const line = document.getElementById("kit-status");
  const entries = [kit.basemap, kit.layers].filter(Boolean);
  const text = entries.length ? entries.map(kitLine).join("；") : "未载入：断网时只能显示看过的底图。可打开指挥中心发的 .pmtiles 图包文件。";
  line.textContent = error ? `图包不能使用：${error.message}。${text}` : text;
  line.dataset.kinds = entries.map((entry) => entry.kind).join(" ");
  line.dataset.layers = kit.layers ? (worker.controlled ? (kitLayersWanted() ? "drawn" : "online") : "no-worker") : "";
  // online, the user may choose the kit's layers over the link's (a button only while it can act)
  let choose = document.getElementById("kit-layers");
  if (kit.layers && worker.controlled && !choose) {
    choose = el("button", { class: "btn", type: "button", id: "kit-layers", onclick: () => preferKitLayers(!kit.preferLayers) });
    document.getElementById("kit-remove").before(choose);
  } else if (!(kit.layers && worker.controlled) && choose) {
    choose.remove();
    choose = null;
  }
  if (choose) {
    choose.textContent = kit.preferLayers ? "改用链接图层" : "使用图包图层";
    choose.setAttribute("aria-pressed", kit.preferLayers ? "true" : "false");
  }
}

/** The card again, keeping the error it shows (the network or the worker changed). */
function refreshKitStatus() {
  showKitStatus(kit.error);
}

function useKit(entry) {
  kit[entry.kind] = entry;
  if (entry.kind === "basemap") showBasemap(entry);
  else showKitLayers(entry);
  followNetwork();
}

async function openKitFiles(input) {
  try {
    for (const file of input.files) {
      const entry = await readArchive(file);
      await kitStore("readwrite", (store) => store.put({ name: file.name, type: file.type, saved: Date.now(), blob: file }, entry.kind));
      useKit(entry);
    }
    if (navigator.storage && navigator.storage.persist) {
      // asks the browser not to evict the kit under storage pressure; refused, it is kept as long as the browser allows
      navigator.storage.persist().then((granted) => { document.getElementById("kit-status").dataset.persisted = granted ? "1" : "0"; },
        (error) => showKitStatus(error));
    }
    showKitStatus();
  } catch (error) {
    showKitStatus(error);
  }
  input.value = "";
}

async function loadKeptKit() {
  try {
    const kept = await kitStore("readonly", (store) => store.getAll());
    for (const record of kept) {
      useKit(await readArchive(new File([record.blob], record.name, { type: record.type || "application/octet-stream" })));
    }
    showKitStatus();
  } catch (error) {
    showKitStatus(error);
  }
}

async function removeKit() {
  try {
    await kitStore("readwrite", (store) => store.clear());
    if (kit.layer) map.removeLayer(kit.layer);
    if (kit.vectors) map.removeLayer(kit.vectors);
    Object.assign(kit, { basemap: null, layers: null, layer: null, vectors: null, preferLayers: false });
    followNetwork();
    showKitStatus();
  } catch (error) {
    showKitStatus(error);
  }
}

function show(layer, wanted) {
  if (wanted && !map.hasLayer(layer)) layer.addTo(map);
  if (!wanted && map.hasLayer(layer)) map.removeLayer(layer);
}

/** Offline with a kit, the link's own tiles are left out (they could only fail); online, they
 * are drawn over the kit's basemap (they are the newer). Each tiled layer in scope comes from the
 * kit's layers when they are drawn and hold it, else from the link's tiles online, else from the
 * snapshot. */
function followNetwork() {
  show(linkTiles, navigator.onLine || !kit.basemap);
  const fromKit = kitLayersWanted() && worker.controlled;
  if (kit.vectors) show(kit.vectors, fromKit);
  const inKit = new Set(fromKit ? kitLayerNames() : []);
  for (const layer of vector.tiled) {
    const source = inKit.has(layer) ? "kit" : navigator.onLine ? "link" : "snapshot";
    show(linkVectors[layer], source === "link");
    if (snapshotLayers[layer]) show(snapshotLayers[layer], source === "snapshot");
  }
}
window.addEventListener("offline", () => { followNetwork(); refreshKitStatus(); });
window.addEventListener("online", () => { followNetwork(); refreshKitStatus(); });
followNetwork();
const kitReady = window.indexedDB && window.pmtiles ? loadKeptKit() : Promise.resolve(showKitStatus(new Error("此浏览器不支持离线图包")));

window.onemapShare = { map, data, closures, kit, kitReady, worker, linkVectors };
document.documentElement.dataset.onemapReady = "1";
