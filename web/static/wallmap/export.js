/* PNG export of the wall map's view (onemap's own code), with html-to-image (the global
 * `htmlToImage`, loaded as a classic script from its npm package). Methods of WallMap (app.js). */

import { el } from "../shared/dom.js";

/** The toolbar and the search box are not part of the picture. */
function inPicture(node) {
  return !(node.classList && (node.classList.contains("om-toolbar") || node.classList.contains("om-search")));
}

export const exportMethods = {
  async exportPng() {
    try {
      const container = this.map.getContainer();
      // html-to-image copies attributes, not the live "checked" state: mirror it, or every
      // layer in the exported legend shows unticked.
      for (const input of container.querySelectorAll("input[type=checkbox], input[type=radio]")) input.toggleAttribute("checked", input.checked);
      // skipFonts: the page uses the system's fonts only; scanning every stylesheet for web
      // fonts to embed is most of the time an export takes.
      const url = await htmlToImage.toPng(container, { skipFonts: true, filter: inPicture });
      const link = el("a", { href: url, download: `onemap-${new Date().toISOString().slice(0, 19).replace(/[:T]/g, "")}.png` });
      document.body.append(link);
      link.click();
      link.remove();
    } catch (error) {
      this.notify(`导出失败：${error.message || error}`, true);
    }
  },
};
