/* DOM helpers shared by the wall map and the share page (onemap's own code). Every text from the
 * data goes in as a text node, never as HTML. */

/**
 * An element: `attrs.text` becomes its text, `class` its class name, `style` its inline style,
 * `on…` an event listener, any other key an attribute (true → present, false/null → absent).
 */
export function el(tag, attrs, children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key === "class") node.className = value;
    else if (key === "style") node.style.cssText = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children || []) if (child) node.append(child);
  return node;
}

/** A tooltip or label from data: a text node, never HTML (Leaflet renders a string as HTML). */
export function textTip(text) {
  return el("span", { text });
}

/** A badge icon (a glyph in a coloured circle or diamond), built from DOM nodes. */
export function badge(classes, size, colour, glyph, fontSize) {
  const node = el("div", { class: classes.join(" ") }, [el("span", { text: glyph })]);
  Object.assign(node.style, { width: `${size}px`, height: `${size}px`, background: colour, fontSize: `${fontSize}px` });
  return node;
}

/** `fn` called once `ms` after the last of a burst of calls. */
export function debounce(fn, ms) {
  let timer = null;
  return function () { clearTimeout(timer); timer = setTimeout(fn, ms); };
}

/** Leaflet map options for the screen's motion preference: a screen that asks for less motion
 * (prefers-reduced-motion) zooms and pans without Leaflet's zoom, fade and marker animations, as
 * the wall map's pulses become steady rings there (wallmap.css). */
export function motionOptions() {
  const animate = !window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  return { zoomAnimation: animate, fadeAnimation: animate, markerZoomAnimation: animate };
}
