"""``GET /events``: server-sent events for open wall maps and share pages. Every second the server
compares the live layers' change tokens (alerts, incidents, closures, reservoirs, stations) with
what it last sent and sends a ``change`` event naming each layer that changed (the page then
refetches it); a comment every 15 s keeps proxies from closing the stream, and the server ends a
stream after ``seconds`` (5 minutes) so that none lives forever. Pages
reconnect (EventSource does), and poll ``/map/live`` when the stream is not to be had."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sse_starlette import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from layers.services.wallmap import MapService

from .wallmap import MapDep

router = APIRouter(tags=["Wall map"])
POLL_S = 1.0


async def _changes(request: Request, service: MapService, seconds: float) -> AsyncIterator[dict[str, Any]]:
    sent: dict[str, str] = {}
    deadline = asyncio.get_running_loop().time() + seconds
    while not await request.is_disconnected() and asyncio.get_running_loop().time() < deadline:
        versions = await run_in_threadpool(service.versions)
        changed = [layer for layer, token in versions.items() if sent.get(layer) != token]
        for layer in changed:
            yield {"event": "change", "data": json.dumps({"layer": layer, "version": versions[layer], "first": layer not in sent})}
        sent = versions
        await asyncio.sleep(POLL_S)


@router.get("/events", summary="Server-sent events: which live layer changed (text/event-stream)", response_class=EventSourceResponse,
            responses={200: {"description": "An endless text/event-stream of `change` events", "content": {"text/event-stream": {"schema": {"type": "string"}}}}})
def events(request: Request, service: MapDep,
           seconds: Annotated[float, Query(ge=1, le=3600, description="How long the stream stays open; then the server ends it and the page reconnects (EventSource does by itself).")] = 300.0) -> EventSourceResponse:
    return EventSourceResponse(_changes(request, service, seconds), ping=15, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
