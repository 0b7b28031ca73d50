/* How numbers, times and places read on onemap's pages (zh-CN), shared by the wall map and the
 * share page (onemap's own code). */

export const NUMBER = new Intl.NumberFormat("zh-CN", { maximumFractionDigits: 2 });

/** A field's value as shown in a popup (null: nothing to show). `type` is the catalogue's
 * field type: str, int, float, bool or datetime. */
export function formatValue(value, type) {
  if (value === null || value === undefined || value === "") return null;
  if (type === "bool") return value ? "是" : "否";
  if (type === "int" || type === "float") return NUMBER.format(value);
  if (type === "datetime") {
    const date = new Date(value);
    return isNaN(date) ? String(value) : formatDateTime(date);
  }
  return String(value);
}

/** A count of people or features, rounded to a whole number: 12345.6 → "12,346". */
export function formatCount(value) {
  return NUMBER.format(Math.round(value || 0));
}

/** A travel time: 7.25 → "7.3 分钟". */
export function formatMinutes(minutes) {
  return `${minutes.toFixed(1)} 分钟`;
}

/** A distance: 3.456 → "3.46 km". */
export function formatKm(km) {
  return `${km.toFixed(2)} km`;
}

/** A time stamp (Date or ISO text) in the viewer's time zone, 24-hour clock. */
export function formatDateTime(value) {
  return new Date(value).toLocaleString("zh-CN", { hour12: false });
}

/** Two coordinates in degrees, in the order given, to 5 decimals (about a metre): "116.59000, 35.41000". */
export function formatCoordinates(first, second) {
  return `${first.toFixed(5)}, ${second.toFixed(5)}`;
}
