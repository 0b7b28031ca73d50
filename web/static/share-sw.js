// onemap share links (onemap's own code): keep the page's assets and the links seen, so a link
// re-opens with no network. Served at /s/sw.js so that it controls the pages under /s/.
const CACHE = "onemap-share-v1";
const ASSETS = ["/static/leaflet/leaflet.js", "/static/leaflet/leaflet.css", "/static/onemap/share.js", "/static/onemap/share.css", "/static/onemap/favicon.svg"];
self.addEventListener("install", (event) => { event.waitUntil(caches.open(CACHE).then((c) => c.addAll(ASSETS)).then(() => self.skipWaiting())); });
self.addEventListener("activate", (event) => { event.waitUntil(self.clients.claim()); });
self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/static/")) {
    event.respondWith(caches.match(event.request).then((hit) => hit || fetch(event.request).then((response) => {
      const copy = response.clone(); caches.open(CACHE).then((c) => c.put(event.request, copy)); return response; })));
  } else if (url.pathname.startsWith("/s/") && url.pathname !== "/s/sw.js") {
    event.respondWith(fetch(event.request).then((response) => {
      if (response.ok) { const copy = response.clone(); caches.open(CACHE).then((c) => c.put(event.request, copy)); }
      return response;
    }).catch(() => caches.match(event.request)));
  }
});
