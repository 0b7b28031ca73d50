/* Wind for the plume tool (onemap's own code), pure: no DOM, no Leaflet. The operator drags an
 * arrow the way the gas goes; the API wants where the wind blows FROM (meteorological, degrees
 * clockwise from north), so the two differ by 180°. Unit tests: web/test/wind.test.js.
 *
 * Our own spherical bearing, not @turf/bearing: turf's modules import their helpers by bare
 * package names, which a browser cannot resolve without a bundler, and the wall map has none; on
 * the sphere the bearing is a few lines and within 0.5° of the ellipsoid's geodesic at city scale. */

const RAD = Math.PI / 180;
const EARTH_RADIUS_M = 6371008.8;

/** The 16 points of the compass in Chinese, clockwise from north. */
export const COMPASS_16 = ["北", "东北偏北", "东北", "东北偏东", "东", "东南偏东", "东南", "东南偏南",
  "南", "西南偏南", "西南", "西南偏西", "西", "西北偏西", "西北", "西北偏北"];

/** An angle in degrees brought into [0, 360). */
export function normaliseDeg(deg) {
  const d = deg % 360;
  return d < 0 ? d + 360 : d === 0 ? 0 : d; // -0 → 0
}

/** Initial great-circle bearing (degrees clockwise from north, [0, 360)) from the first point to
 * the second, both longitude/latitude in degrees. */
export function bearingDeg(lon1, lat1, lon2, lat2) {
  const phi1 = lat1 * RAD, phi2 = lat2 * RAD, dLon = (lon2 - lon1) * RAD;
  const y = Math.sin(dLon) * Math.cos(phi2);
  const x = Math.cos(phi1) * Math.sin(phi2) - Math.sin(phi1) * Math.cos(phi2) * Math.cos(dLon);
  return normaliseDeg(Math.atan2(y, x) / RAD);
}

/** The point `distanceM` metres from (lon, lat) along the great circle that starts at `bearing`
 * degrees: [lon, lat]. */
export function destination(lon, lat, bearing, distanceM) {
  const d = distanceM / EARTH_RADIUS_M, theta = bearing * RAD, phi1 = lat * RAD;
  const phi2 = Math.asin(Math.sin(phi1) * Math.cos(d) + Math.cos(phi1) * Math.sin(d) * Math.cos(theta));
  const lon2r = lon * RAD + Math.atan2(Math.sin(theta) * Math.sin(d) * Math.cos(phi1), Math.cos(d) - Math.sin(phi1) * Math.sin(phi2));
  return [((lon2r / RAD + 540) % 360) - 180, phi2 / RAD];
}

/** Where the wind blows from (degrees, [0, 360)) when the gas goes the way an arrow of bearing
 * `arrowBearing` points. */
export function windFromArrow(arrowBearing) {
  return normaliseDeg(arrowBearing + 180);
}

/** The arrow's bearing for a wind from `windFromDeg` (the inverse of windFromArrow). */
export function arrowFromWind(windFromDeg) {
  return normaliseDeg(windFromDeg + 180);
}

/** The Chinese 16-point compass name of a direction: 0 → 北, 45 → 东北, 350 → 北. */
export function compassName(deg) {
  return COMPASS_16[Math.round(normaliseDeg(deg) / 22.5) % 16];
}

/**
 * What an arrow of bearing `arrowBearing` says about the wind.
 * @returns {{windFrom: number, windName: string, towards: string, text: string}}
 *   windFrom rounded to a whole degree in [0, 360); windName e.g. "东北风"; towards e.g. "西南";
 *   text e.g. "风向 东北风 45°，烟羽向西南".
 */
export function describeWind(arrowBearing) {
  const windFrom = Math.round(windFromArrow(arrowBearing)) % 360;
  const windName = `${compassName(windFrom)}风`;
  const towards = compassName(arrowBearing);
  return { windFrom, windName, towards, text: `风向 ${windName} ${windFrom}°，烟羽向${towards}` };
}

/**
 * An arrow's head as a triangle, in screen coordinates (x right, y down, pixels): the tip at
 * `head`, the two barbs `length` back along the shaft and `halfWidth` to either side.
 * @param {number[]} tail [x, y]
 * @param {number[]} head [x, y]
 * @returns {number[][]} [left barb, tip, right barb]; null when tail and head coincide.
 */
export function arrowHead(tail, head, { length = 22, halfWidth = 11 } = {}) {
  const dx = head[0] - tail[0], dy = head[1] - tail[1];
  const norm = Math.hypot(dx, dy);
  if (norm === 0) return null;
  const ux = dx / norm, uy = dy / norm;
  const back = [head[0] - ux * length, head[1] - uy * length];
  return [[back[0] + uy * halfWidth, back[1] - ux * halfWidth], [head[0], head[1]], [back[0] - uy * halfWidth, back[1] + ux * halfWidth]];
}
