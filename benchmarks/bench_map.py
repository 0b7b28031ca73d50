"""The wall map on the sample city, in Debian's headless Chromium, against a plain folium page.

1. Time from navigation to every default layer drawn: onemap's ``/map`` (data fetched for the
   view, points clustered, basemap tiles rendered from the store) against a plain folium page with
   the same layers — the ten default data layers and the basemap's admin areas, water and roads —
   inlined as GeoJSON (Leaflet served locally too, so both run offline). Each page is opened in a
   fresh browser context (cold cache), after one untimed warm-up; "drawn" = onemap's readiness
   flag (no fetch pending, every tile loaded) or the folium page's load event, then two animation
   frames for the paint. Ratio = folium / onemap (target: ≥ 3×).
Both with auth on, as deployed (a session cookie for the page, a bearer token for the clients).

2. Layer-items API throughput: 20 concurrent clients (a bounded asyncio loop on loopback) asking
   ``/collections/{layer}/items`` for random 5 km windows; requests per second, latency, errors
   (must be zero).

Run: ``bash .ci/bench`` or ``python benchmarks/bench_map.py [--runs 5] [--requests 2000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import folium
import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.auth import SESSION_COOKIE  # noqa: E402
from layers.accounts import AccountStore  # noqa: E402
from layers.sample import write_sample  # noqa: E402
from layers.settings import Settings  # noqa: E402
from layers.store.gpkg import GeoPackageStore  # noqa: E402
from tests.helpers import serving  # noqa: E402
from web.wallmap import VIEWS  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"]
VIEWPORT = {"width": 1920, "height": 1080}
READY = "document.documentElement.dataset.onemapReady === '1'"
PAINTED = "() => new Promise(resolve => requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now()))))"
ITEM_LAYERS = ("shelters", "rescue_stations", "supply_depots", "reservoirs", "hazardous_enterprises", "flood_prone_areas", "roads")
CLIENTS = 20


def folium_page(store: GeoPackageStore, base: str, centre: tuple[float, float], zoom: int) -> str:
    """The reference: the same layers inlined as GeoJSON in a plain folium page (Leaflet local)."""
    fmap = folium.Map(location=list(centre), zoom_start=zoom, tiles=None, prefer_canvas=False)
    fmap.default_js = [("leaflet", f"{base}/static/leaflet/leaflet.js")]
    fmap.default_css = [("leaflet_css", f"{base}/static/leaflet/leaflet.css")]
    for layer in ("admin_areas", "water_bodies", "roads"):
        frame = store.read(layer)
        folium.GeoJson(frame[["source_id", "geometry"]].to_json(), name=layer, style_function=lambda _: {"color": "#999", "weight": 1, "fillOpacity": 0.05}).add_to(fmap)
    for view in VIEWS:
        frame = store.read(view.id, filters=view.filters)
        if frame.empty:
            continue
        columns = [c for c in frame.columns if c != "geometry"]
        folium.GeoJson(
            frame[columns[:4] + ["geometry"]].to_json(default=str), name=view.id,
            marker=folium.CircleMarker(radius=7, fill=True, fill_opacity=0.9, color=view.colour),
            style_function=lambda _, colour=view.colour: {"color": colour, "weight": 2, "fillOpacity": 0.2},
        ).add_to(fmap)
    folium.LayerControl().add_to(fmap)
    return str(fmap.get_root().render())


def time_page(browser: Any, url: str, ready: str, runs: int, cookies: list[dict[str, Any]] | None = None) -> list[float]:
    """Milliseconds from navigation to drawn, each run in a fresh context (cold cache)."""
    times = []
    for run in range(runs + 1):
        context = browser.new_context(viewport=VIEWPORT, bypass_csp=True)  # the wait predicates are evaluated strings
        if cookies:
            context.add_cookies(cookies)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
        page.goto(url, wait_until="commit", timeout=300_000)
        page.wait_for_function(ready, timeout=300_000, polling="raf")
        drawn = float(page.evaluate(PAINTED))
        if errors:
            raise RuntimeError(f"{url}: page errors {errors[:3]}")
        if run:  # the first run warms the server (basemap preparation, caches)
            times.append(drawn)
        context.close()
    return times


def _windows(count: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    lon = rng.uniform(116.0, 117.4, count)
    lat = rng.uniform(34.6, 35.8, count)
    half_lon, half_lat = 2.5 / 90.9, 2.5 / 110.9
    return [f"{x - half_lon:.5f},{y - half_lat:.5f},{x + half_lon:.5f},{y + half_lat:.5f}" for x, y in zip(lon, lat, strict=True)]


async def _load(base: str, requests: int, headers: dict[str, str]) -> tuple[float, list[float], int, int]:
    """``requests`` item queries spread over CLIENTS concurrent clients; (seconds, latencies, errors, features)."""
    windows = _windows(requests, seed=6)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for number in range(requests):
        queue.put_nowait(number)
    latencies: list[float] = []
    errors = 0
    features = 0
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)

    async def client() -> None:
        nonlocal errors, features
        async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits, headers=headers) as http:
            while True:
                try:
                    number = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                layer = ITEM_LAYERS[number % len(ITEM_LAYERS)]
                start = time.perf_counter()
                try:
                    response = await http.get(f"/collections/{layer}/items", params={"bbox": windows[number], "limit": 1000})
                    if response.status_code != 200:
                        errors += 1
                    else:
                        features += int(response.json()["numberReturned"])
                except httpx.HTTPError:
                    errors += 1
                latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return time.perf_counter() - start, latencies, errors, features


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="timed page loads of each page (after one warm-up)")
    parser.add_argument("--requests", type=int, default=2000, help="item requests in the throughput test")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} is missing: run `bash .ci/ensure-browser`")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "city.gpkg"
        with GeoPackageStore(path) as store:
            write_sample(store, 370800)
        settings = Settings(store=str(path), auth="required")  # as deployed: every request proves who it is
        os.environ.pop("ONEMAP_STORE", None)
        accounts = AccountStore.for_settings(settings)
        accounts.add_user("bench", "benchmark-password", "viewer")
        session, token = accounts.new_session("bench"), accounts.new_api_token("bench")
        accounts.close()
        with serving(settings) as base, GeoPackageStore(path) as store:
            cookies = [{"name": SESSION_COOKIE, "value": session, "url": base}]
            centre, zoom = (35.2, 116.75), 9
            reference = Path(folder) / "folium_inline.html"
            reference.write_text(folium_page(store, base, centre, zoom), encoding="utf-8")
            layers = ",".join([v.id for v in VIEWS if v.visible] + ["labels"])
            ours_url = f"{base}/map#{zoom}/{centre[0]}/{centre[1]}/layers={layers}"
            page_kb = len(httpx.get(f"{base}/map", cookies={SESSION_COOKIE: session}).content) / 1024
            print(f"== wall map page load, sample city, viewport {VIEWPORT['width']}x{VIEWPORT['height']}, zoom {zoom}")
            print(f"onemap /map HTML {page_kb:,.1f} kB (data fetched by view); folium page {reference.stat().st_size / 1e6:,.1f} MB (data inlined)")
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                ours = time_page(browser, ours_url, READY, args.runs, cookies)
                theirs = time_page(browser, reference.as_uri(), "document.readyState === 'complete'", args.runs)
                browser.close()
            ours_ms, theirs_ms = statistics.median(ours), statistics.median(theirs)
            print(f"onemap /map            median {ours_ms:8.0f} ms  (runs: {', '.join(f'{t:.0f}' for t in ours)})")
            print(f"folium, GeoJSON inline median {theirs_ms:8.0f} ms  (runs: {', '.join(f'{t:.0f}' for t in theirs)})")
            print(f"→ onemap draws the default layers {theirs_ms / ours_ms:.1f}× faster (target ≥ 3×)")

            print(f"== layer items API: {args.requests:,} requests, {CLIENTS} concurrent clients, random 5 km windows over {', '.join(ITEM_LAYERS)}")
            seconds, latencies, errors, features = asyncio.run(_load(base, args.requests, {"Authorization": f"Bearer {token}"}))
            latencies_ms = np.array(latencies) * 1000
            print(f"throughput {args.requests / seconds:8.1f} requests/s  ({features / seconds:,.0f} features/s)  latency median {np.median(latencies_ms):.1f} ms  p95 {np.percentile(latencies_ms, 95):.1f} ms  errors {errors}")
            if errors:
                sys.exit(f"{errors} requests failed")


if __name__ == "__main__":
    main()
