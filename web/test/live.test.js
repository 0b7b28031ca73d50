// Live updates (static/shared/live.js): change tokens pushed by /events, reopened, else polled.
import assert from "node:assert/strict";
import { test } from "node:test";

import { isChange, subscribe } from "../static/shared/live.js";

class FakeSource {
  static CLOSED = 2;
  static made = [];
  constructor(url) { this.url = url; this.readyState = 0; this.listeners = {}; this.closed = false; FakeSource.made.push(this); }
  addEventListener(name, fn) { (this.listeners[name] ||= []).push(fn); }
  emit(name, event) { for (const fn of this.listeners[name] || []) fn(event || {}); }
  close() { this.closed = true; this.readyState = 2; }
}

function timers() {
  const queue = [];
  return { queue, set: (fn, ms) => { queue.push({ fn, ms }); return queue.length; }, clear: () => undefined };
}

test("a token is a change only to a page that already knew the layer's token", () => {
  assert.equal(isChange(null, "alerts", "a"), false, "the first tokens are the start");
  assert.equal(isChange({ alerts: "a" }, "alerts", "a"), false);
  assert.equal(isChange({ alerts: "a" }, "alerts", "b"), true);
  assert.equal(isChange({ incidents: "a" }, "alerts", "b"), false, "a layer first heard of");
});

test("change events reach the page; a stream the server ends reconnects without polling", () => {
  FakeSource.made = [];
  const seen = [], statuses = [];
  const clock = timers();
  const live = subscribe({ eventsUrl: "/events", pollUrl: "/map/live", pollMs: 5000, poll: () => assert.fail("no polling"), onVersion: (l, v) => seen.push([l, v]),
    onStatus: (mode) => statuses.push(mode), EventSourceImpl: FakeSource, timers: clock });
  const [source] = FakeSource.made;
  assert.equal(source.url, "/events");
  source.emit("open");
  source.emit("change", { data: JSON.stringify({ layer: "alerts", version: "v1", first: true }) });
  assert.deepEqual(seen, [["alerts", "v1"]]);
  for (let i = 0; i < 5; i++) { source.readyState = 0; source.emit("error"); source.emit("open"); } // the browser reconnects
  assert.equal(live.mode(), "push");
  assert.equal(FakeSource.made.length, 1);
  assert.deepEqual(statuses.filter((s) => s === "push").length, 6);
});

test("a stream refused outright is reopened, and polling takes over when it keeps failing", async () => {
  FakeSource.made = [];
  const seen = [];
  const clock = timers();
  const live = subscribe({ eventsUrl: "/events", pollUrl: "/map/live", pollMs: 5000, poll: async (url) => { assert.equal(url, "/map/live"); return { versions: { incidents: "i1", alerts: "a1" } }; },
    onVersion: (l, v) => seen.push([l, v]), onStatus: () => undefined, EventSourceImpl: FakeSource, timers: clock, maxFailures: 3, retryMs: 100 });
  FakeSource.made[0].readyState = FakeSource.CLOSED;
  FakeSource.made[0].emit("error");
  assert.equal(clock.queue.length, 1);
  assert.equal(clock.queue[0].ms, 100);
  clock.queue.shift().fn();
  assert.equal(FakeSource.made.length, 2, "reopened");
  FakeSource.made[1].emit("error");
  FakeSource.made[1].emit("error");
  assert.equal(live.mode(), "poll");
  assert.equal(FakeSource.made[1].closed, true);
  await new Promise((resolve) => { setImmediate(resolve); });
  assert.deepEqual(seen, [["incidents", "i1"], ["alerts", "a1"]]);
  assert.equal(clock.queue.at(-1).ms, 5000, "polls again");
  live.close();
});

test("no EventSource at all: polling from the start, errors said and polled through", async () => {
  const statuses = [];
  const clock = timers();
  let calls = 0;
  subscribe({ eventsUrl: "/events", pollUrl: "/map/live", pollMs: 2000, poll: async () => { calls += 1; throw new Error("502"); },
    onVersion: () => assert.fail("nothing"), onStatus: (mode, error) => statuses.push([mode, error && error.message]), EventSourceImpl: undefined, timers: clock });
  await new Promise((resolve) => { setImmediate(resolve); });
  assert.equal(calls, 1);
  assert.deepEqual(statuses, [["error", "502"]]);
  assert.equal(clock.queue.length, 1);
});
