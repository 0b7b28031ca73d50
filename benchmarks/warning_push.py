"""From a reading posted to the alert drawn on the wall: ``onemap serve`` on the sample city (auth
on, as deployed), ``pages`` wall maps open in Debian's headless Chromium (each its own browser
context, its own event stream), and ``events`` readings posted one by one through
``POST /observations`` with a sensor account's token, each over a different water gauge's
thresholds. Per reading and page: the time from just before the POST to the moment the page's
alert panel holds the gauge's alert (a MutationObserver in the page notes it; both clocks are this
machine's). Also, per reading, when the alert is stored — the alerts layer's change token moves,
polled every 20 ms on ``/map/live`` — the server's share of the time. Target: p95 ≤ 1 s with 10
pages.

Used by ``bench_warning.py`` (``--only push``); needs Debian's chromium (``bash .ci/ensure-browser``).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.auth import SESSION_COOKIE  # noqa: E402
from layers.accounts.store import AccountStore  # noqa: E402
from layers.sample import write_sample  # noqa: E402
from layers.settings import Settings  # noqa: E402
from layers.store.gpkg import GeoPackageStore  # noqa: E402
from tests.helpers import serving  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"]
READY = "document.documentElement.dataset.onemapReady === '1' && document.getElementById('om-status').dataset.mode === 'push'"
WATCH = """() => { window.__seen = {};
  const note = () => { for (const li of document.querySelectorAll('#om-alert-list li[data-station]')) {
    if (!(li.dataset.station in window.__seen)) window.__seen[li.dataset.station] = Date.now(); } };
  note(); new MutationObserver(note).observe(document.body, { childList: true, subtree: true }); }"""
THRESHOLDS = ("flood_limit_level_m", "warning_level_m", "guaranteed_level_m", "design_flood_level_m")


def _gauges(store: GeoPackageStore, count: int) -> list[tuple[str, float]]:
    """Water gauges with a threshold: (station id, a level 0.5 m over its highest threshold)."""
    stations = store.read("monitoring_stations")
    water = stations[stations["kind"] == "水位"]
    found = []
    for _, row in water.iterrows():
        levels = [float(row[name]) for name in THRESHOLDS if name in row and row[name] == row[name] and row[name] is not None]
        if levels:
            found.append((str(row["source_id"]), max(levels) + 0.5))
    if len(found) < count:
        raise SystemExit(f"only {len(found)} water gauges with thresholds; ask for fewer --push-events")
    return found[:count]


def _alerts_token(client: httpx.Client) -> str:
    return str(client.get("/map/live").json()["versions"]["alerts"])


def _server_done(client: httpx.Client, before: str, t0: float, timeout_s: float = 10.0) -> float:
    """Milliseconds from ``t0`` until the alerts layer's change token moves past ``before`` (the
    alert is stored): polled every 20 ms on ``/map/live``, which costs the server next to nothing."""
    while time.time() - t0 < timeout_s:
        if _alerts_token(client) != before:
            return (time.time() - t0) * 1000
        time.sleep(0.02)
    return float("nan")


def bench_push(pages: int = 10, events: int = 20, *, verbose: bool = False) -> None:
    """Print the push latency figures (see the module docstring)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        print(f"push: {CHROMIUM} is missing (bash .ci/ensure-browser): skipped")
        return
    print(f"== reading posted → alert drawn on {pages} Chromium wall maps ({events} readings, one gauge each)")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "city.gpkg"
        with GeoPackageStore(path) as store:
            write_sample(store, 370800)
            gauges = _gauges(store, events)
        settings = Settings(store=str(path), auth="required", warning_interval_s=0.0)  # only readings start an evaluation: each alert comes from its reading
        accounts = AccountStore.for_settings(settings)
        accounts.add_user("wall", "benchmark-password", "viewer")
        accounts.add_user("gauges", "benchmark-password", "sensor")
        sessions = [accounts.new_session("wall") for _ in range(pages)]
        sensor = {"Authorization": f"Bearer {accounts.new_api_token('gauges')}"}
        viewer = {"Authorization": f"Bearer {accounts.new_api_token('wall')}"}
        accounts.close()
        with serving(settings) as base, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            walls = []
            for session in sessions:
                context = browser.new_context(viewport={"width": 1600, "height": 900}, bypass_csp=True)  # Playwright evaluates string predicates with eval
                context.add_cookies([{"name": SESSION_COOKIE, "value": session, "url": base}])
                page = context.new_page()
                page.goto(f"{base}/map")
                walls.append(page)
            for page in walls:
                page.wait_for_function(READY, timeout=180_000)
                page.evaluate(WATCH)
            drawn: list[float] = []
            served: list[float] = []
            watcher = httpx.Client(base_url=base, headers=viewer, timeout=10)
            for station, level in gauges:
                before = _alerts_token(watcher)
                t0 = time.time()
                posted = httpx.post(f"{base}/observations", json=[{"station": station, "time": datetime.now(UTC).isoformat(), "value": level, "unit": "m"}], headers=sensor, timeout=30)
                if posted.status_code != 200 or posted.json()["accepted"] != 1:
                    raise SystemExit(f"POST /observations answered {posted.status_code}: {posted.text[:300]}")
                served.append(_server_done(watcher, before, t0))
                for page in walls:
                    page.wait_for_function(f"'{station}' in window.__seen", timeout=30_000, polling=50)
                    drawn.append(page.evaluate(f"window.__seen['{station}']") - t0 * 1000)
                if verbose:
                    print(f"  {station}: stored {served[-1]:5.0f} ms, drawn {min(drawn[-pages:]):5.0f}–{max(drawn[-pages:]):5.0f} ms")
                time.sleep(0.6)  # the evaluation loop settles for 0.5 s between evaluations
            browser.close()
    ms = np.array(drawn)
    p50, p95 = float(np.percentile(ms, 50)), float(np.percentile(ms, 95))
    print(f"drawn on the wall  p50 {p50:7.0f} ms  p95 {p95:7.0f} ms  max {ms.max():7.0f} ms  ({len(ms)} = {events} readings × {pages} pages; target p95 ≤ 1,000 ms: {'PASS' if p95 <= 1000 else 'FAIL'})")
    print(f"stored (the alerts token moved)  median {statistics.median(served):7.0f} ms  max {max(served):7.0f} ms  — the server's share")
