// onemap share links (onemap's own code): keep the page's assets and the links seen, so a link
// re-opens with no network. Served at /s/sw.js so that it controls the pages under /s/.
// The cache is named per build (the server puts a hash of the assets in place of __BUILD__), so an
// upgrade installs a new worker whose cache starts empty, and the old caches are deleted.
// It also answers /s/kit/{z}/{x}/{y}.pbf from the offline field kit's layers archive that the page
// keeps in IndexedDB (a PMTiles archive of gzip Mapbox Vector Tiles, read with the npm `pmtiles`
// library): the page draws those URLs with Leaflet.VectorGrid, whose MVT decoder fetches by URL.
importScripts("/static/pmtiles/pmtiles.js"); // self.pmtiles; kept with the worker's script
const PREFIX = "onemap-share-";
const CACHE = PREFIX + "__BUILD__";
const ASSETS = __ASSETS__; // filled in by the server from web/share_page.py SHARE_ASSETS
const KIT_DB = "onemap-kit"; // as web/static/share.js keeps the kit
const KIT_STORE = "archives";
const KIT_TILE = /^\/s\/kit\/(\d{1,2})\/(\d{1,8})\/(\d{1,8})\.pbf$/;
const MVT = "application/vnd.mapbox-vector-tile";

self.addEventListener("install", (event) => { event.waitUntil(caches.open(CACHE).then((c) => c.addAll(ASSETS)).then(() => self.skipWaiting())); });
self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((names) => Promise.all(names.filter((name) => name.startsWith(PREFIX) && name !== CACHE).map((name) => caches.delete(name))))
    .then(() => self.clients.claim()));
});

/** The layers archive the page keeps (its IndexedDB record: name, saved, blob), or undefined. */
function keptLayers() {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(KIT_DB, 1);
    open.onupgradeneeded = () => open.result.createObjectStore(KIT_STORE);
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const db = open.result;
      const request = db.transaction(KIT_STORE, "readonly").objectStore(KIT_STORE).get("layers");
      request.onsuccess = () => { db.close(); resolve(request.result); };
      request.onerror = () => { db.close(); reject(request.error); };
    };
  });
}

/** A pmtiles Source over a Blob: the archive's bytes, read slice by slice (the file stays on disk). */
function blobSource(blob, key) {
  return { getKey: () => key, getBytes: async (offset, length) => ({ data: await blob.slice(offset, offset + length).arrayBuffer() }) };
}

let opened = null; // { key, archive }: the archive read last, reused while the kept record is the same
async function kitTile(z, x, y) {
  const record = await keptLayers();
  if (!record) return new Response("no layers archive is kept", { status: 404, headers: { "Content-Type": "text/plain; charset=utf-8" } });
  const key = `${record.name}|${record.saved}`;
  if (!opened || opened.key !== key) opened = { key, archive: new self.pmtiles.PMTiles(blobSource(record.blob, key)) };
  const tile = await opened.archive.getZxy(z, x, y); // decompressed (gzip → MVT bytes)
  if (!tile || !tile.data.byteLength) return new Response(null, { status: 204, headers: { "Cache-Control": "no-store" } }); // none here: an empty tile
  return new Response(tile.data, { status: 200, headers: { "Content-Type": MVT, "Cache-Control": "no-store" } });
}

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  if (url.pathname.endsWith("/events")) return; // an endless stream: straight to the network, never into the cache
  const kit = KIT_TILE.exec(url.pathname);
  if (kit) {
    event.respondWith(kitTile(Number(kit[1]), Number(kit[2]), Number(kit[3])).catch((error) => {
      // the page draws the tile empty (VectorGrid reads any failed answer so) and its card says why
      event.waitUntil(self.clients.get(event.clientId).then((client) => { if (client) client.postMessage({ kitError: `图层瓦片不能读取（${error.message}）` }); }));
      return new Response(`图包瓦片不能读取：${error.message}`, { status: 500, headers: { "Content-Type": "text/plain; charset=utf-8" } });
    }));
  } else if (url.pathname.startsWith("/static/")) {
    event.respondWith(caches.match(event.request).then((hit) => hit || fetch(event.request).then((response) => {
      const copy = response.clone(); caches.open(CACHE).then((c) => c.put(event.request, copy)); return response; })));
  } else if (url.pathname.startsWith("/s/") && url.pathname !== "/s/sw.js") {
    event.respondWith(fetch(event.request).then((response) => {
      if (response.ok) { const copy = response.clone(); caches.open(CACHE).then((c) => c.put(event.request, copy)); }
      return response;
    }).catch((error) => caches.match(event.request).then((hit) => hit || Promise.reject(error))));  // offline: the copy kept, else the network's error
  }
});
