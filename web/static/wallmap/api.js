/* The wall map's networking (onemap's own code): JSON from the API, waiting through the 202s of
 * analyses computed in the background, errors with the server's own description, and the way to
 * the log-in page when a session has ended. */

/** The body of a response: its JSON, or {} when it has none (an empty 202, a proxy's HTML page). */
async function readBody(response) {
  const type = response.headers.get("Content-Type") || "";
  if (response.status === 204 || !type.includes("json")) return {};
  return response.json();
}

/** An Error for a failed answer, saying the server's description (or the status), with `.status`. */
function answerError(response, body) {
  const error = new Error(body.description || `${response.status} ${response.statusText}`);
  error.status = response.status;
  return error;
}

/** To the log-in page, coming back to this page afterwards. */
export function goToLogin() {
  location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
}

export class Api {
  /**
   * @param {object} hooks `busy(delta)` counts requests in flight (+1, then -1);
   *   `waiting(text)` says what a background analysis is doing while the page waits for it.
   */
  constructor({ busy, waiting }) {
    this.busy = busy;
    this.waiting = waiting;
  }

  /** The answer to `url` once it is no longer 202: an analysis (or a brief) computed in the
   * background says which step it is at; wait as Retry-After asks, and ask again. */
  async _settled(url, options) {
    let response = await fetch(url, options);
    while (response.status === 202) {
      const body = await readBody(response);
      this.waiting(`正在计算：${body.job || ""}（${body.step || ""}，已 ${Math.round(body.elapsed_s || 0)} 秒）`);
      const wait = Number(response.headers.get("Retry-After")) || 3;
      await new Promise((resolve) => { setTimeout(resolve, wait * 1000); });
      response = await fetch(url, options);
    }
    return response;
  }

  /** GET (or `options.method`) `url` as JSON; rejects with the server's description. */
  async fetchJSON(url, options) {
    this.busy(1);
    try {
      const response = await this._settled(url, options);
      const body = await readBody(response);
      if (!response.ok) throw answerError(response, body);
      return body;
    } finally {
      this.busy(-1);
    }
  }

  /** GET `url` as a file (a brief's PDF): a Blob; rejects with the server's description. */
  async fetchFile(url) {
    this.busy(1);
    try {
      const response = await this._settled(url);
      if (!response.ok) throw answerError(response, await readBody(response));
      return await response.blob();
    } finally {
      this.busy(-1);
    }
  }

  /** A JSON write (POST/PATCH) to the API; rejects with the server's description. */
  sendJSON(method, url, body) {
    const options = { method };
    if (body !== undefined) { options.headers = { "Content-Type": "application/json" }; options.body = JSON.stringify(body); }
    return this.fetchJSON(url, options);
  }

  /** A poll that must not count as loading and must see the newest answer: null after sending
   * the browser to the log-in page (the session has ended). */
  async poll(url) {
    const response = await fetch(url, { cache: "no-store" });
    if (response.status === 401) { goToLogin(); return null; }
    const body = await readBody(response);
    if (!response.ok) throw answerError(response, body);
    return body;
  }
}
