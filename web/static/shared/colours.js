/* Colours of the analyses, shared by the wall map and the share page (onemap's own code). The
 * layers' own colours are not here: they come from the layer catalogue (layers/catalogue.py
 * LayerStyle) in each page's JSON config. */

/** Travel-time bands of a service area: minutes → colour, shortest first. */
export const TIME_BANDS = [[5, "#1a9850"], [10, "#fee08b"], [15, "#d73027"]];

/** The colour of a service area of `minutes`; grey for a band not in TIME_BANDS. */
export function bandColour(minutes) {
  const band = TIME_BANDS.find(([limit]) => limit === Number(minutes));
  return band ? band[1] : "#999";
}

/** The bands' minutes as the routing API's `minutes` parameter, e.g. "5,10,15". */
export function bandMinutes() {
  return TIME_BANDS.map(([minutes]) => minutes).join(",");
}

/** Legend rows [label, colour] of the bands, e.g. ["5 分钟", "#1a9850"]. */
export function timeBandLegend() {
  return TIME_BANDS.map(([minutes, colour]) => [`${minutes} 分钟`, colour]);
}

/** Routes to an incident, by the kind of resource they come from. */
export const ROUTE_COLOURS = { rescue_stations: "#d7191c", supply_depots: "#8c510a", shelters: "#1a9641" };

/** The incident's own marker. */
export const INCIDENT_COLOUR = "#d7191c";

/** Whether a "#rrggbb" colour is light (dark text reads better on it). */
export function isLight(hex) {
  const v = parseInt(String(hex).slice(1), 16);
  return ((v >> 16) & 255) * 0.299 + ((v >> 8) & 255) * 0.587 + (v & 255) * 0.114 > 170;
}
