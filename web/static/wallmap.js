/* onemap 应急一张图 — the command wall map (onemap's own code), the entry ES module.
 *
 * Draws the config that web/wallmap.py builds: layer groups with icons, colours by class (the
 * layer catalogue's styles), counts, toggles and legends; data fetched from the API for the
 * current view (never inlined); incident mode (nearest resources by road, ETA table, service
 * areas, residents within 1/3/5 km, risk at the point); road closures drawn on the map; live
 * updates pushed by /events (polling /map/live without it); the alert panel,
 * pulsing stations, station charts (uPlot) and the strip of key figures; the view and visible layers in the URL hash; search, coordinates,
 * fullscreen, PNG export and print. One module per concern in wallmap/, helpers shared with the
 * share page in shared/; Leaflet and its plugins are the globals their classic scripts define.
 *
 * Every text from the data is put in the page with textContent, never as HTML.
 */

import { WallMap } from "./wallmap/app.js";
import { motionOptions } from "./shared/dom.js";
import { parsePermalink } from "./wallmap/permalink.js";

// The page holds no inline script; the config is a JSON data block.
function start() {
  const config = JSON.parse(document.getElementById("onemap-config").textContent);
  const [w, s, e, n] = config.city_bbox;
  // The map starts at the permalink's view when the URL has one: started at the city and moved
  // there after, it fetched every layer's tiles and features for the city's view first.
  const linked = parsePermalink(location.hash);
  const [center, zoom] = linked ? [[linked.lat, linked.lon], linked.zoom] : [[(s + n) / 2, (w + e) / 2], 9];
  const map = L.map("om-map", { center, zoom, zoomControl: !config.wall, preferCanvas: false, zoomSnap: 0.25, zoomDelta: 1, wheelPxPerZoomLevel: 120, ...motionOptions() });
  L.control.scale({ imperial: false, metric: true }).addTo(map);
  window.onemap = new WallMap(map, config);
}

if (document.getElementById("onemap-config")) start();
