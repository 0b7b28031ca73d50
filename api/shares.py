"""Share links for field teams: editors make, list and revoke them (``/shares``); anybody with the
link opens its read-only phone page (``/s/{token}``), its snapshot (``/s/{token}/data``) and the
basemap tiles of its area (``/s/{token}/tiles/…``), and its live situation (``/s/{token}/live``, pushed
by ``/s/{token}/events``) — nothing else: a token opens no other route.
Expired or revoked → 410, unknown → 404, too many failed lookups from one client → 429."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from layers.accounts.store import SHARE_DEFAULT_HOURS, SHARE_MAX_HOURS, Share
from layers.accounts.tables import AuditLine
from layers.errors import GoneError, InputError, NotFoundError, TooManyAttemptsError
from layers.io.geojson import feature_collection
from layers.services.shares import (
    DEFAULT_SCOPE,
    ShareRequest,
    ShareSituations,
    build_snapshot,
    check_scope,
    incident_point,
)
from layers.store.selection import check_text
from web.share_page import service_worker_js, share_error_html, share_page_html
from web.tile_grid import tile_overlaps

from .auth import AccountsDep, EditorDep, get_accounts, get_limiter
from .dependencies import StoreDep
from .errors import ErrorBody, status_for
from .rate_limit import client_of
from .schemas import (
    PNG_TILE,
    CreatedShare,
    Responses,
    ShareLive,
    ShareRoute,
    Shares,
    ShareSnapshot,
    ShareSummary,
    documented,
)
from .tiles import MAX_ZOOM, check_tile

router = APIRouter(tags=["Share links"])
public_router = APIRouter(tags=["Share links"])
Token = Annotated[str, Path(min_length=16, max_length=100, description="The link's token.")]
GONE_TEXT = "The link expired or was revoked: ask the command centre for a new one"
GONE: Responses = {410: {"model": ErrorBody, "description": GONE_TEXT, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}}
"""What a link's data, route and tiles answer once it has expired or been revoked."""
POLL_S = 1.0
"""Seconds between two looks at a link's situation, per open stream (cached per layer versions)."""
RECHECK_S = 10.0
"""Seconds between two checks that a streaming link is still valid."""


class ShareIn(BaseModel):
    """What to share: an incident (or a point), the layers in scope, the expiry."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    incident_id: Annotated[str, Field(max_length=100)] | None = None
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
    title: Annotated[str, Field(max_length=200)] | None = None
    layers: list[Annotated[str, Field(max_length=64)]] = Field(default=list(DEFAULT_SCOPE), max_length=20, description="Layers the link may show (its scope).")
    k: int = Field(default=3, ge=1, le=5, description="Routes per resource kind.")
    zoom: int = Field(default=14, ge=8, le=18)
    service_areas: bool = True
    expires_hours: float = Field(default=SHARE_DEFAULT_HOURS, ge=0.1, le=SHARE_MAX_HOURS, description="Hours until the link stops working (default 24; at least 0.1 = 6 minutes, at most 168 = 7 days).")


@router.post("/shares", status_code=201, summary="Make a share link (snapshot of an incident's situation)", **documented(CreatedShare, "The link's record, URL and token", status=201))
def create_share(body: ShareIn, request: Request, store: StoreDep, principal: EditorDep, accounts: AccountsDep) -> dict[str, Any]:
    """Returns the short URL ``/s/{token}`` (the token is shown only now: keep the URL)."""
    check_text(body.title, what="title")  # a NUL: 400 here, not a database error (PostGIS) or stored (GeoPackage)
    incident = None
    if body.incident_id is not None:
        lon, lat, incident = incident_point(store, body.incident_id)
    elif body.lon is not None and body.lat is not None:
        lon, lat = body.lon, body.lat
    else:
        raise InputError("give incident_id, or lon and lat of the place to share")
    scope = check_scope(body.layers)
    title = body.title or (incident["name"] if incident else f"{lon:.5f}, {lat:.5f}")
    snapshot = build_snapshot(
        ShareRequest(lon, lat, title, incident, scope, body.k, body.zoom, body.service_areas),
        store=store, routing=request.app.state.routing,
    )
    share, token = accounts.add_share(title=title, created_by=principal.username, hours=body.expires_hours, scope=list(scope), snapshot=snapshot, audit_detail={"incident": body.incident_id})
    return {**share.summary(), "url": f"/s/{token}", **({"link": f"{public}/s/{token}"} if (public := request.app.state.settings.public_url) else {}), "token": token}


@router.get("/shares", summary="Share links, newest first (without their tokens)", **documented(Shares, "The links, newest first"))
def list_shares(accounts: AccountsDep) -> dict[str, Any]:
    return {"shares": [share.summary() for share in accounts.shares()]}


@router.post("/shares/{share_id}/revoke", summary="Revoke a share link at once", **documented(ShareSummary, "The link's record, revoked"))
def revoke_share(share_id: Annotated[str, Path(max_length=32)], principal: EditorDep, accounts: AccountsDep) -> dict[str, Any]:
    share = accounts.revoke_share(share_id, audit=AuditLine(principal.username, "revoke", "shares", before=[share_id], after=[share_id]))
    return share.summary()


def open_share(request: Request, token: str) -> Share:
    """The active share of ``token``; 404 unknown (a failed attempt), 410 expired or revoked."""
    limiter, client = get_limiter(request), client_of(request)
    share = get_accounts(request).share_for_token(token)
    if share is None:  # only unknown tokens meet the limit: a valid link always opens
        limiter.check("share", client)
        limiter.fail("share", client)
        raise NotFoundError("this link does not exist: check that it was copied whole")
    state = share.state()
    if state != "active":
        raise GoneError(f"this link was {'revoked' if state == 'revoked' else 'valid until ' + share.expires_at.isoformat()}: ask the command centre for a new one")
    return share


@public_router.get("/s/sw.js", include_in_schema=False)
def service_worker() -> Response:
    """Caches the share page's assets (and pages seen) so a link re-opens with no network."""
    return Response(service_worker_js(), media_type="text/javascript", headers={"Service-Worker-Allowed": "/", "Cache-Control": "no-cache"})


SHARE_ERROR_HEADINGS = {410: "链接已失效", 429: "尝试次数过多", 404: "链接不存在"}
"""The heading of a share link's error page, by status (expired or revoked, rate-limited, unknown)."""


@public_router.get("/s/{token}", response_class=HTMLResponse, summary="A share link's phone page (read-only, no login)", responses={410: {"description": f"{GONE_TEXT} (a page saying so)", "content": {"text/html": {"schema": {"type": "string"}}}}})
def share_page(request: Request, token: Token) -> HTMLResponse:
    try:
        share = open_share(request, token)
    except (NotFoundError, GoneError, TooManyAttemptsError) as error:
        status, _ = status_for(error)
        heading = SHARE_ERROR_HEADINGS[status]
        return HTMLResponse(share_error_html(heading, str(error)), status_code=status, headers={"Cache-Control": "no-store"})
    return HTMLResponse(share_page_html(share, token), headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"})


@public_router.get("/s/{token}/data", summary="A share link's snapshot (GeoJSON inside)", **documented(ShareSnapshot, "The snapshot", also=GONE))
def share_data(request: Request, token: Token) -> JSONResponse:
    share = open_share(request, token)
    return JSONResponse({**share.snapshot, "expires_at": share.expires_at.isoformat()}, headers={"Cache-Control": "no-store"})


def _situation(request: Request, share: Share) -> tuple[str, dict[str, Any]]:
    situations: ShareSituations = request.app.state.share_situations
    return situations.get(share.id, share.snapshot)


@public_router.get("/s/{token}/live", summary="A share link's live situation: its incident now, warnings and closures in force nearby", **documented(ShareLive, "The situation and its version", also=GONE))
def share_live(request: Request, token: Token) -> JSONResponse:
    share = open_share(request, token)
    version, situation = _situation(request, share)
    return JSONResponse({"versions": {"situation": version}, "situation": situation}, headers={"Cache-Control": "no-store"})


async def _share_changes(request: Request, token: str, seconds: float) -> AsyncIterator[dict[str, Any]]:
    """A ``change`` event whenever the link's situation changes (the first at once); ``gone`` and
    the end of the stream once the link is revoked or expires (checked every ``RECHECK_S``)."""
    loop = asyncio.get_running_loop()
    deadline, sent, checked = loop.time() + seconds, None, loop.time()
    share = await run_in_threadpool(open_share, request, token)
    while not await request.is_disconnected() and loop.time() < deadline:
        if loop.time() - checked >= RECHECK_S:
            checked = loop.time()
            now: Share | None = await run_in_threadpool(get_accounts(request).share_for_token, token)
            state = "revoked" if now is None else now.state()
            if state != "active":
                yield {"event": "gone", "data": json.dumps({"state": state})}
                return
        version, _ = await run_in_threadpool(_situation, request, share)
        if version != sent:
            yield {"event": "change", "data": json.dumps({"layer": "situation", "version": version, "first": sent is None})}
            sent = version
        await asyncio.sleep(POLL_S)


@public_router.get("/s/{token}/events", summary="Server-sent events of a share link: its situation changed (text/event-stream)", response_class=EventSourceResponse,
                   responses={200: {"description": "An endless text/event-stream of `change` events (and `gone` when the link ends)", "content": {"text/event-stream": {"schema": {"type": "string"}}}}, **GONE})
def share_events(request: Request, token: Token,
                 seconds: Annotated[float, Query(ge=1, le=3600, description="How long the stream stays open; then the page reconnects.")] = 300.0) -> EventSourceResponse:
    open_share(request, token)  # an unknown or ended link is refused before the stream opens
    return EventSourceResponse(_share_changes(request, token, seconds), ping=15, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@public_router.get("/s/{token}/route", summary="Driving route from the user's position to the link's incident", **documented(ShareRoute, "The route (GeoJSON)", also=GONE))
def share_route(request: Request, token: Token, lon: Annotated[float, Query(ge=-180, le=180)], lat: Annotated[float, Query(ge=-90, le=90)]) -> JSONResponse:
    """For the field team: from where they are (within the link's area) to the incident, by road,
    around the closures in force now."""
    share = open_share(request, token)
    west, south, east, north = share.snapshot["extent"]
    if not (west <= lon <= east and south <= lat <= north):
        raise InputError("you are outside this link's area: navigate with the 导航 button instead")
    routing = request.app.state.routing
    used = routing.closures()
    point = share.snapshot["point"]
    result = routing.route((lon, lat), (point["lon"], point["lat"]), closures=used)
    body = feature_collection(result[["travel_time_min", "distance_km", "reachable", "geometry"]], closures={"stored_closure_count": len(used.stored)})  # ids and names stay with the command centre
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@public_router.get("/s/{token}/tiles/{z}/{x}/{y}.png", response_class=Response, responses={**PNG_TILE, **GONE}, summary="Basemap tiles of a share link's area")
def share_tile(request: Request, token: Token, z: Annotated[int, Path(ge=8, le=MAX_ZOOM)], x: Annotated[int, Path(ge=0)], y: Annotated[int, Path(ge=0)]) -> Response:
    """Only tiles over the link's area: a link reads what its scope names, nothing else."""
    share = open_share(request, token)
    check_tile(z, x, y)
    if not tile_overlaps(z, x, y, share.snapshot["extent"]):
        raise NotFoundError(f"tile {z}/{x}/{y} is outside this link's area")
    body = request.app.state.basemap.tile(request.app.state.store, z, x, y)
    return Response(content=body, media_type="image/png", headers={"Cache-Control": "private, max-age=86400"})
