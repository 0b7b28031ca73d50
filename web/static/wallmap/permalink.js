/* The wall map's view in the URL hash, a permalink: #zoom/lat/lon/layers=a,b/base=id (onemap's
 * own code). Pure: no DOM, no Leaflet. */

/** The hash of a view: the centre to 5 decimals (about a metre), the visible layers in order, and
 * the basemap when it is not the default (`base` null or undefined: the default). */
export function formatPermalink({ zoom, lat, lon, layers, base }) {
  const parts = [zoom, lat.toFixed(5), lon.toFixed(5), "layers=" + layers.join(",")];
  if (base) parts.push("base=" + base);
  return "#" + parts.join("/");
}

/** The view a hash holds, or null when it holds none (too few parts, a part that is not a
 * number, bad percent-encoding). `layers` is null when the hash does not say (keep the
 * defaults), else the names as written (unknown ones are the caller's to drop); `base` is null
 * when the hash does not say. */
export function parsePermalink(hash) {
  let text;
  try {
    text = decodeURIComponent(String(hash).replace(/^#/, ""));
  } catch (error) {
    if (error instanceof URIError) return null; // a hand-edited link: open the default view
    throw error;
  }
  const parts = text.split("/");
  if (parts.length < 3) return null;
  const [zoom, lat, lon] = parts.slice(0, 3).map((part) => (part.trim() === "" ? NaN : Number(part)));
  if (![zoom, lat, lon].every(Number.isFinite)) return null;
  const view = { zoom, lat, lon, layers: null, base: null };
  for (const part of parts.slice(3)) {
    if (part.startsWith("layers=")) view.layers = part.slice(7).split(",").filter((name) => name);
    else if (part.startsWith("base=")) view.base = part.slice(5);
  }
  return view;
}
