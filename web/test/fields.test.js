// The list of API fields the wall map reads (static/wallmap/fields.js) names only fields that its
// modules do read: a stale entry would keep the API from dropping a field nobody uses.
// (tests/web/test_js_fields.py checks the other side: the routes send every field listed.)
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { test } from "node:test";

import { API_FIELDS } from "../static/wallmap/fields.js";

const folder = new URL("../static/wallmap/", import.meta.url);
const sources = readdirSync(folder).filter((name) => name.endsWith(".js") && name !== "fields.js").map((name) => readFileSync(new URL(name, folder), "utf8")).join("\n");

test("every field listed is read somewhere in the wall map's modules", () => {
  for (const [route, paths] of Object.entries(API_FIELDS)) {
    assert.ok(paths.length > 0, route);
    for (const path of paths) {
      const leaf = path.split(".").at(-1).replace("[]", "");
      assert.match(sources, new RegExp(`\\b${leaf}\\b`), `${route}: ${path} is not read by any module`);
    }
  }
});

test("paths are dotted names, [] marking a list", () => {
  for (const paths of Object.values(API_FIELDS)) {
    for (const path of paths) assert.match(path, /^[A-Za-z_]\w*(\[\])?(\.[A-Za-z_]\w*(\[\])?)*$/, path);
  }
});
