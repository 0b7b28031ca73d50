// onemap share links (onemap's own code): keep the page's assets and the links seen, so a link
// re-opens with no network. Served at /s/sw.js so that it controls the pages under /s/.
// The cache is named per build (the server puts a hash of the assets in place of __BUILD__), so an
// upgrade installs a new worker whose cache starts empty, and the old caches are deleted.
const PREFIX = "onemap-share-";
const CACHE = PREFIX + "__BUILD__";
const ASSETS = __ASSETS__; // filled in by the server from web/share_page.py SHARE_ASSETS
self.addEventListener("install", (event) => { event.waitUntil(caches.open(CACHE).then((c) => c.addAll(ASSETS)).then(() => self.skipWaiting())); });
self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((names) => Promise.all(names.filter((name) => name.startsWith(PREFIX) && name !== CACHE).map((name) => caches.delete(name))))
    .then(() => self.clients.claim()));
});
self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  if (url.pathname.endsWith("/events")) return; // an endless stream: straight to the network, never into the cache
  if (url.pathname.startsWith("/static/")) {
    event.respondWith(caches.match(event.request).then((hit) => hit || fetch(event.request).then((response) => {
      const copy = response.clone(); caches.open(CACHE).then((c) => c.put(event.request, copy)); return response; })));
  } else if (url.pathname.startsWith("/s/") && url.pathname !== "/s/sw.js") {
    event.respondWith(fetch(event.request).then((response) => {
      if (response.ok) { const copy = response.clone(); caches.open(CACHE).then((c) => c.put(event.request, copy)); }
      return response;
    }).catch((error) => caches.match(event.request).then((hit) => hit || Promise.reject(error))));  // offline: the copy kept, else the network's error
  }
});
