/* The dense layers of the wall map drawn from vector tiles (onemap's own code): roads,
 * administrative areas, flood-prone areas, risk zones and the population grid, from
 * /collections/{id}/tiles/WebMercatorQuad/{z}/{y}/{x} (Mapbox Vector Tiles, EPSG:3857) through
 * Leaflet.VectorGrid, in each layer's catalogue style (view.style) and its classes
 * (view.tile_classes: colour and width by class, the risk levels in their official colours).
 * A hover shows a tooltip, a click the same popup as the other layers (layers.js popupFor); every
 * text from a tile goes in as a text node.
 *
 * Pure helpers first (no DOM, no Leaflet: web/test/vector_layers.test.js), then the methods of
 * WallMap (app.js). */

import { el, textTip } from "../shared/dom.js";
import { formatCount, formatValue } from "../shared/format.js";

const EARTH_CIRCUMFERENCE_M = 40075016.686;
const TILE_PX = 256;
const CELL_PX = 8;
/** The side of an aggregated population cell in px (the server's CELL_PX, api/vector_tiles.py). */
const DENSITY_STEPS = [[50, 0.1], [200, 0.2], [500, 0.32], [1000, 0.45], [3000, 0.58]];
/** Residents per km² → fill opacity of a population cell; above the last step 0.7. */
const DRAW_ORDER = ["admin_areas", "population", "risk_zones", "flood_prone_areas", "roads"];
/** Bottom to top: boundaries and the grid under the hazards, roads over everything. */

/** The tile URL template of `layer` (Leaflet's {z}/{y}/{x}); `prefix`: a share link's "/s/{token}". */
export function tileUrl(layer, { prefix = "" } = {}) {
  return `${prefix}/collections/${encodeURIComponent(layer)}/tiles/WebMercatorQuad/{z}/{y}/{x}`;
}

/** A feature's class in `view.tile_classes`: { colour, width } (width in px at zoom 12), the
 * layer's colour and null width when it has no class (or no classes). */
export function classOf(view, properties) {
  const classes = view.tile_classes;
  const fallback = { colour: view.style.color, width: null };
  if (!classes || !classes.by) return fallback;
  const found = classes.classes.find(([value]) => value === properties[classes.by]);
  if (!found) return fallback;
  return { colour: found[1] || view.style.color, width: found[2] };
}

/** Ground metres per pixel of a 256-px tile at `zoom` and latitude `lat` (degrees). */
export function metresPerPixel(zoom, lat) {
  return (EARTH_CIRCUMFERENCE_M * Math.cos((lat * Math.PI) / 180)) / (TILE_PX * 2 ** zoom);
}

/** Residents per km² of a population cell: a stored cell by its `cell_size_m`; an aggregated
 * cell (`count` members, summed `persons`) by the 8-px square it covers at `zoom` and `lat`. */
export function populationDensity(properties, zoom, lat) {
  const persons = Number(properties.persons) || 0;
  const side = properties.count === undefined && properties.cell_size_m ? Number(properties.cell_size_m) : CELL_PX * metresPerPixel(zoom, lat);
  return persons / ((side * side) / 1e6);
}

/** The fill opacity of a density (residents per km²). */
export function densityOpacity(density) {
  for (const [limit, opacity] of DENSITY_STEPS) if (density < limit) return opacity;
  return 0.7;
}

/** A line's width at `zoom`: `width` (px at zoom 12) thinner out, thicker in. */
export function widthAt(width, zoom) {
  return Math.round(width * Math.min(2, Math.max(0.5, 1 + (zoom - 12) * 0.15)) * 10) / 10;
}

/**
 * The Leaflet path options of one feature of a tiled layer at `zoom`; `lat`: the map's latitude
 * (for the population's densities). `className` om-p-{layer} as the layers drawn from GeoJSON.
 */
export function pathStyle(view, properties, zoom, lat) {
  const { colour, width } = classOf(view, properties);
  const base = { className: `om-p-${view.id}`, interactive: true };
  if (view.geometry === "LineString") return { ...base, color: colour, weight: widthAt(width || 1.5, zoom), opacity: 0.9, fill: false, lineCap: "round" };
  if (view.id === "population") {
    const opacity = densityOpacity(populationDensity(properties, zoom, lat));
    return { ...base, color: view.style.color, weight: 0.5, opacity: 0.5, fill: true, fillColor: view.style.fill_color || view.style.color, fillOpacity: opacity };
  }
  if (view.id === "admin_areas") return { ...base, color: colour, weight: width || 1, opacity: 0.8, fill: true, fillColor: colour, fillOpacity: 0 };
  if (view.id === "risk_zones") return { ...base, color: colour, weight: width || 1, opacity: 0.9, fill: true, fillColor: colour, fillOpacity: 0.35 };
  return { ...base, color: colour, weight: 2, opacity: 1, fill: true, fillColor: colour, fillOpacity: 0.22 };
}

/** A value with its unit as a tooltip says it: "40 km/h", "1,234 人", "是". */
function withUnit(value, type, unit) {
  const text = formatValue(value, type);
  if (text === null) return null;
  return unit ? `${text} ${unit}` : text;
}

/** The hover text of a feature: its name (else the layer's title), then the layer's tip fields
 * with their units; an aggregated cell says how many features it sums. Plain text. */
export function tipText(view, properties) {
  const parts = [properties.name || view.title];
  if (properties.count !== undefined) {
    const persons = properties.persons !== undefined ? `人口 ${formatCount(properties.persons)} 人，` : "";
    return `${view.title}：${persons}${formatCount(properties.count)} 个要素合计`;
  }
  for (const [name, label, unit, type] of view.tip || []) {
    const value = withUnit(properties[name], type, unit);
    if (value !== null) parts.push(`${label} ${value}`);
  }
  if (properties.merged !== undefined) parts.push(mergedText(properties.merged));
  return parts.join(" · ");
}

/** A line merged from the layer's features at a low zoom (roads of one class and name): how many. */
function mergedText(merged) {
  return `${formatCount(merged)} 段合并显示`;
}

/** What a tiled feature's popup names it by: its source id; an aggregated cell, how many
 * features it sums; a merged line, how many it holds. */
export function popupId(properties) {
  if (properties.count !== undefined) return `${formatCount(properties.count)} 个要素合计`;
  if (properties.merged !== undefined) return mergedText(properties.merged);
  return String(properties.source_id);
}

/** A feature's key across tiles: its source id; an aggregated cell has none and is its own. */
export function featureKey(properties, fallback) {
  return properties.source_id !== undefined && properties.source_id !== null ? String(properties.source_id) : `cell:${fallback}`;
}

/** The latitude at the middle of a (west, south, east, north) box. */
export function middleLatitude(bbox) {
  return (bbox[1] + bbox[3]) / 2;
}

let TiledLayer = null;

/** L.VectorGrid.Protobuf with what the wall map needs of a layer: a tile that fails to arrive is
 * an empty tile (the page still becomes ready, and says so), and the features drawn now. */
function tiledLayerClass() {
  if (TiledLayer) return TiledLayer;
  const Protobuf = L.VectorGrid.Protobuf;
  TiledLayer = Protobuf.extend({
    _getVectorTilePromise(coords) {
      return Protobuf.prototype._getVectorTilePromise.call(this, coords).catch((error) => {
        this.fire("tilefailed", { coords, error }); // an empty tile: the other tiles still draw
        return { layers: {} };
      });
    },

    /** The features drawn now, one per id (a feature crossing tiles is drawn in each): handles
     * with `featureId`, `properties` and `openPopup()` at the middle of its drawn part. */
    getLayers() {
      const seen = new Map();
      for (const renderer of Object.values(this._vectorTiles || {})) {
        for (const [id, { feature }] of Object.entries(renderer._features || {})) {
          if (seen.has(id)) continue;
          const coords = renderer.getCoord();
          const middle = feature._pxBounds ? feature._pxBounds.getCenter() : L.point(TILE_PX / 2, TILE_PX / 2);
          const latlng = this._map.unproject(coords.scaleBy(this.getTileSize()).add(middle), coords.z);
          seen.set(id, { featureId: id, properties: feature.properties, getLatLng: () => latlng, openPopup: () => this.fire("openfeature", { layer: feature, latlng }) });
        }
      }
      return [...seen.values()];
    },
  });
  return TiledLayer;
}

export const vectorMethods = {
  /** The tiled layers' pane: over the basemap and the risk tiles, under the GeoJSON overlays. */
  _buildVectorPane() {
    if (this.vectorPane) return;
    this.vectorPane = this.map.createPane("om-vectors");
    this.vectorPane.style.zIndex = 390;
    this.vectorLat = middleLatitude(this.config.city_bbox);
  },

  /** The layer drawing `view` from its vector tiles (added to the map by refresh()). */
  vectorLayer(view) {
    this._buildVectorPane();
    let counter = 0;
    const Layer = tiledLayerClass();
    const layer = new Layer(tileUrl(view.id), {
      pane: "om-vectors",
      zIndex: DRAW_ORDER.indexOf(view.id) + 1,
      maxZoom: 22,
      interactive: true,
      rendererFactory: L.svg.tile, // elements: class om-p-{layer}, hit-tested by the browser
      vectorTileLayerStyles: { [view.id]: (properties, zoom) => pathStyle(view, properties, zoom, this.vectorLat) },
      getFeatureId: (feature) => featureKey(feature.properties, (counter += 1)),
      fetchOptions: { credentials: "same-origin" }, // the session cookie, as api.js's fetches
    });
    layer.on("mouseover", (event) => this._vectorHover(view, layer, event));
    layer.on("mousemove", (event) => { if (this._vectorTip) this._vectorTip.setLatLng(event.latlng); });
    layer.on("mouseout remove", () => this._vectorOut()); // a layer turned off takes its tooltip with it
    layer.on("click dblclick", (event) => this._vectorClick(view, event));
    layer.on("openfeature", (event) => this._vectorPopup(view, event.layer.properties, event.latlng));
    layer.on("tilefailed", (event) => this.notify(`${view.title} 瓦片加载失败：${event.error.message}`, true));
    this._watchTiles(layer); // not "ready" (data-onemap-ready) while tiles load
    return layer;
  },

  /** The analyses drawn from vector tiles (kind "vector": the stored risk zones). */
  _buildVectorAnalyses() {
    for (const analysis of this.config.analyses) {
      if (analysis.kind === "vector") this.analyses[analysis.id] = this.vectorLayer(analysis);
    }
  },

  _vectorHover(view, layer, event) {
    const properties = event.layer.properties;
    this._vectorOut();
    this._vectorTip = L.tooltip({ direction: "top", offset: [0, -8], className: "om-vtip" }).setLatLng(event.latlng).setContent(textTip(tipText(view, properties)));
    this.map.openTooltip(this._vectorTip);
    const id = featureKey(properties, "");
    if (properties.source_id !== undefined) {
      layer.setFeatureStyle(id, (p, zoom) => ({ ...pathStyle(view, p, zoom, this.vectorLat), weight: pathStyle(view, p, zoom, this.vectorLat).weight + 2, opacity: 1 }));
      this._vectorLit = { layer, id };
    }
  },

  _vectorOut() {
    if (this._vectorTip) { this.map.closeTooltip(this._vectorTip); this._vectorTip = null; }
    if (this._vectorLit) { this._vectorLit.layer.resetFeatureStyle(this._vectorLit.id); this._vectorLit = null; }
  },

  /** A click on a tiled feature: its popup; while an incident or a closure is being placed, the
   * click is the map's (a polygon under the cursor must not stop the drawing). */
  _vectorClick(view, event) {
    if (this.mode) { this.map.fire(event.type, { latlng: event.latlng, originalEvent: event.originalEvent }); return; }
    if (event.type !== "click") return;
    this._vectorPopup(view, event.layer.properties, event.latlng);
  },

  _vectorPopup(view, properties, latlng) {
    this._vectorOut();
    const aggregated = properties.count !== undefined;
    const feature = { id: popupId(properties), properties: aggregated ? { ...properties, name: `${view.title}（聚合）` } : properties };
    const content = this.popupFor(view, feature, this.lonlat(latlng));
    if (aggregated) content.querySelector("table").append(el("tr", {}, [el("th", { text: "要素数" }), el("td", { text: formatCount(properties.count) })]));
    L.popup({ maxWidth: 360 }).setLatLng(latlng).setContent(content).openOn(this.map);
  },

  /** A tiled layer loaded again (its data changed): tiles are asked for again, and the browser's
   * cache answers those whose ETag is still current (304). */
  _reloadVectorLayer(id, force) {
    if (force) this.layers[id].container.redraw();
    return undefined;
  },

  /** Our data are WGS 84; on a GCJ-02 basemap the tiles' pane is moved by the offset at the
   * centre of the view (uniform within a city to a few metres; a tile cannot be shifted point by point). */
  _followVectorOffset() {
    if (!this.vectorPane) return;
    if (this.offset !== "gcj02") { this.vectorPane.style.transform = ""; return; }
    const [lon, lat] = this.lonlat(this.map.getCenter());
    const plain = this.map.latLngToLayerPoint(L.latLng(lat, lon));
    const shifted = this.map.latLngToLayerPoint(this.ll(lon, lat));
    this.vectorPane.style.transform = `translate(${shifted.x - plain.x}px, ${shifted.y - plain.y}px)`;
  },
};

