/* Live updates shared by onemap's pages (onemap's own code): the server's change events
 * (GET /events, server-sent events) with EventSource, reopened when the server ends a stream,
 * and polling of the change tokens (GET /map/live) when EventSource is missing or keeps failing.
 * No DOM, no Leaflet: the page says what to do with a change. */

/** Whether `version` of `layer` is news to a page that knows `versions` (null: knows nothing
 * yet, so the first tokens are the starting point, not a change). */
export function isChange(versions, layer, version) {
  return versions !== null && versions !== undefined && layer in versions && versions[layer] !== version;
}

/**
 * Subscribe to the change tokens of the live layers.
 *
 * @param {object} options
 *   `eventsUrl` (/events), `pollUrl` (/map/live), `pollMs` (the polling interval);
 *   `poll(url)` resolves to the body of /map/live (null: the page is going away);
 *   `onVersion(layer, version, change)` for every token received, changed or not (`change`: the
 *   event's data, which may carry the layer's new `body`; undefined when polled);
 *   `onStatus(mode, error)`: mode "push" (stream open), "poll" (a poll answered), "error";
 *   `EventSourceImpl` (window.EventSource, or undefined when the browser has none);
 *   `maxFailures`: errors in a row, with no stream opened between, before falling back to polling;
 *   `retryMs`: the wait before reopening a stream the browser gave up on;
 *   `timers`: {set, clear} (setTimeout/clearTimeout; tests pass their own).
 * @returns {{mode: () => string, close: () => void}}
 */
export function subscribe(options) {
  const { eventsUrl, pollUrl, pollMs, poll, onVersion, onStatus, EventSourceImpl, maxFailures = 3, retryMs = 2000 } = options;
  const timers = options.timers || { set: (fn, ms) => setTimeout(fn, ms), clear: (id) => clearTimeout(id) };
  let mode = "push";
  let source = null;
  let failures = 0;
  let timer = null;
  let closed = false;

  async function pollOnce() {
    timer = null;
    if (closed) return;
    try {
      const body = await poll(pollUrl);
      if (body === null) return; // on the way to the log-in page
      for (const [layer, version] of Object.entries(body.versions)) onVersion(layer, version);
      onStatus("poll");
    } catch (error) {
      onStatus("error", error);
    }
    if (!closed) timer = timers.set(pollOnce, pollMs);
  }

  function startPolling() {
    mode = "poll";
    if (source) { source.close(); source = null; }
    pollOnce();
  }

  function open() {
    timer = null;
    if (closed) return;
    source = new EventSourceImpl(eventsUrl);
    source.addEventListener("open", () => { failures = 0; onStatus("push"); });
    source.addEventListener("change", (event) => {
      const data = JSON.parse(event.data);
      onVersion(data.layer, data.version, data);
    });
    source.addEventListener("error", () => {
      // The server ends each stream after its `seconds`; the browser reconnects by itself
      // (readyState CONNECTING) and "open" resets the count. A stream refused outright (a 401,
      // a proxy's error page) is CLOSED and is reopened here; errors in a row mean polling.
      failures += 1;
      onStatus("error", new Error(`实时推送中断（第 ${failures} 次）`));
      if (failures >= maxFailures) { startPolling(); return; }
      if (source.readyState === EventSourceImpl.CLOSED) {
        source.close();
        timer = timers.set(open, retryMs);
      }
    });
  }

  if (typeof EventSourceImpl === "function") open(); else startPolling();
  return {
    mode: () => mode,
    close() {
      closed = true;
      if (timer !== null) timers.clear(timer);
      if (source) source.close();
    },
  };
}
