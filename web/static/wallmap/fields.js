/* Which fields of which API answer the wall map reads (onemap's own code): the one list that
 * tests/web/test_js_fields.py checks against the real routes, so a route that stops sending one
 * fails a test instead of leaving a blank on the wall. A path reads "features[].properties.rank":
 * `[]` is every item of a list. A module that starts reading another field adds it here. */

export const API_FIELDS = {
  "GET /collections": ["collections[].id", "collections[].numberOfFeatures"],
  "GET /collections/{id}/items": [
    "features[].id", "features[].geometry", "features[].properties", "features[].properties.name",
    "numberMatched", "numberReturned",
  ],
  "GET /collections/reservoirs/items": [
    "features[].properties.above_flood_limit", "features[].properties.flood_limit_level_m", "features[].properties.current_level_m",
  ],
  "GET /collections/incidents/items": ["features[].properties.status"],
  "GET /map/live": ["versions"],
  "GET /map/search": ["hits[].kind", "hits[].layer", "hits[].id", "hits[].name", "hits[].lon", "hits[].lat"],
  "GET /map/places": ["places[].name", "places[].lon", "places[].lat"],
  "GET /map/situation": ["residents_within_km"],
  "GET /risk/at": ["level", "score"],
  "GET /routing/nearest": [
    "features[].geometry", "features[].properties.layer", "features[].properties.rank", "features[].properties.resource_id",
    "features[].properties.name", "features[].properties.reachable", "features[].properties.travel_time_min",
    "features[].properties.distance_km", "closures.stored_closures",
  ],
  "GET /routing/areas": ["features[].geometry", "features[].properties.minutes", "features[].properties.residents"],
  "GET /coverage/gaps": ["features[].properties.township", "features[].properties.residents", "features[].properties.nearest_shelter_min"],
  "GET /auth/me": ["username", "role"],
  "GET /alerts": [
    "alerts[].id", "alerts[].station", "alerts[].level", "alerts[].status", "alerts[].headline", "alerts[].raised_at",
  ],
  "POST /alerts/{id}/ack": ["id", "status"],
  "GET /stations/{id}/observations": [
    "kind", "unit", "hours", "thresholds.flood_limit_level_m", "thresholds.design_flood_level_m", "readings[].time", "readings[].value",
  ],
  "GET /map/figures": [
    "alerts", "open_incidents", "reservoirs_above_flood_limit", "residents_in_grave_risk",
    "shelter_coverage_pct", "stations", "stations_offline", "dead_letters_24h", "time",
  ],
  "GET /events": ["change.layer", "change.version"],
  "POST /incidents": ["id", "properties.name"],
  "POST /shares": ["url", "expires_at"],
  "GET /scenarios": ["features[].id", "features[].properties.status"],
  "GET /scenarios/{id}": [
    "id", "kind", "kind_zh", "name", "status", "residents", "displaced", "parameters.lon", "parameters.lat",
    "features[].geometry", "features[].properties.part", "features[].properties.zone", "features[].properties.area_km2",
    "needs[].item", "needs[].name_zh", "needs[].unit", "needs[].unit_zh", "needs[].quantity", "shortfalls[].item", "shortfalls[].short", "warnings",
  ],
  "POST /scenarios/{id}/end": ["properties.status"],
  "an error answer": ["description"],
  "a 202 answer (computing)": ["job", "step", "elapsed_s"],
};
