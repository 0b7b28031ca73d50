"""``GET /events``: server-sent events for open wall maps. Every quarter of a second one task
looks at the live layers' change tokens (alerts, incidents, closures, reservoirs, stations, and the
risk zoning's revision) for all open streams, and each stream sends a ``change`` event naming each
layer that changed since it last sent (the page then refetches it); a comment every 15 s keeps proxies from closing the stream, and the server ends a
stream after ``seconds`` (5 minutes) so that none lives forever. Pages
reconnect (EventSource does), and poll ``/map/live`` when the stream is not to be had."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sse_starlette import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from layers.services.wallmap import MapService

router = APIRouter(tags=["Wall map"])
POLL_S = 0.25
"""Seconds between two looks at the live layers' tokens — one look for all open streams."""


class VersionWatch:
    """The live layers' change tokens, looked at every ``POLL_S`` by one task while any stream is
    open (not once per stream: ten wall maps cost what one does), waking the streams on a change."""

    def __init__(self, service: MapService) -> None:
        self.service = service
        self.versions: dict[str, str] = {}
        self._changed = asyncio.Condition()
        self._listeners = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        try:
            while self._listeners > 0:
                versions = await run_in_threadpool(self.service.versions)
                if versions != self.versions:
                    self.versions = versions
                    async with self._changed:
                        self._changed.notify_all()
                await asyncio.sleep(POLL_S)
        finally:
            self._task = None

    @asynccontextmanager
    async def listening(self) -> AsyncIterator[None]:
        """While a stream is open: the tokens are kept fresh."""
        self._listeners += 1
        if self._task is None:
            self.versions = await run_in_threadpool(self.service.versions)
            self._task = asyncio.create_task(self._run())
        try:
            yield
        finally:
            self._listeners -= 1

    async def wait(self, timeout_s: float) -> None:
        """Until the tokens change, or ``timeout_s``."""
        async with self._changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout_s)


async def _changes(request: Request, watch: VersionWatch, seconds: float) -> AsyncIterator[dict[str, Any]]:
    loop = asyncio.get_running_loop()
    sent: dict[str, str] = {}
    deadline = loop.time() + seconds
    async with watch.listening():
        while not await request.is_disconnected() and loop.time() < deadline:
            versions = dict(watch.versions)
            for layer in [layer for layer, token in versions.items() if sent.get(layer) != token]:
                yield {"event": "change", "data": json.dumps({"layer": layer, "version": versions[layer], "first": layer not in sent})}
            sent = versions
            await watch.wait(min(1.0, max(0.0, deadline - loop.time())))  # at least each second: a closed connection is noticed


@router.get("/events", summary="Server-sent events: which live layer changed (text/event-stream)", response_class=EventSourceResponse,
            responses={200: {"description": "An endless text/event-stream of `change` events", "content": {"text/event-stream": {"schema": {"type": "string"}}}}})
def events(request: Request,
           seconds: Annotated[float, Query(ge=1, le=3600, description="How long the stream stays open; then the server ends it and the page reconnects (EventSource does by itself).")] = 300.0) -> EventSourceResponse:
    watch: VersionWatch = request.app.state.version_watch
    return EventSourceResponse(_changes(request, watch, seconds), ping=15, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
