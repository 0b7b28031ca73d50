/* GCJ-02, the offset of Gaode/Tencent basemaps: the same formulas as gis/crs.py (onemap's own
 * code). Our data are WGS 84; on a GCJ-02 basemap they are shifted to fit it. */

const KRASOVSKY_A = 6378245.0;
const KRASOVSKY_EE = 0.006693421622965943; // e², Krasovsky 1940 (0.00669342162296594323 to the double)

function gcjDelta(lon, lat) {
  const x = lon - 105.0, y = lat - 35.0;
  let dLat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
  dLat += (20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0 / 3.0;
  dLat += (20.0 * Math.sin(y * Math.PI) + 40.0 * Math.sin(y / 3.0 * Math.PI)) * 2.0 / 3.0;
  dLat += (160.0 * Math.sin(y / 12.0 * Math.PI) + 320 * Math.sin(y * Math.PI / 30.0)) * 2.0 / 3.0;
  let dLon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
  dLon += (20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0 / 3.0;
  dLon += (20.0 * Math.sin(x * Math.PI) + 40.0 * Math.sin(x / 3.0 * Math.PI)) * 2.0 / 3.0;
  dLon += (150.0 * Math.sin(x / 12.0 * Math.PI) + 300.0 * Math.sin(x / 30.0 * Math.PI)) * 2.0 / 3.0;
  const radLat = lat / 180.0 * Math.PI;
  let magic = Math.sin(radLat);
  magic = 1 - KRASOVSKY_EE * magic * magic;
  const sqrtMagic = Math.sqrt(magic);
  dLat = (dLat * 180.0) / ((KRASOVSKY_A * (1 - KRASOVSKY_EE)) / (magic * sqrtMagic) * Math.PI);
  dLon = (dLon * 180.0) / (KRASOVSKY_A / sqrtMagic * Math.cos(radLat) * Math.PI);
  return [dLon, dLat];
}

/** WGS 84 → GCJ-02, degrees: [lon, lat]. */
export function wgsToGcj(lon, lat) {
  const d = gcjDelta(lon, lat);
  return [lon + d[0], lat + d[1]];
}

/** GCJ-02 → WGS 84, degrees: [lon, lat], iterated to the exact inverse (not the one-step
 * approximation many copies use, which is a few centimetres off). */
export function gcjToWgs(lon, lat) {
  let wlon = lon, wlat = lat;
  for (let i = 0; i < 6; i++) {
    const g = wgsToGcj(wlon, wlat);
    wlon -= g[0] - lon;
    wlat -= g[1] - lat;
  }
  return [wlon, wlat];
}
