"""``GET /events``: server-sent events for open wall maps. Every quarter of a second one task
looks at the live layers' change tokens (alerts, incidents, closures, reservoirs, stations, and the
risk zoning's revision) for all open streams, and each stream sends a ``change`` event naming each
layer that changed since it last sent (the page then refetches it; an alerts change carries the
body of ``GET /alerts`` itself, computed once for all streams, so ten walls draw it at once); a comment every 15 s keeps proxies from closing the stream, and the server ends a
stream after ``seconds`` (5 minutes) so that none lives forever. Pages
reconnect (EventSource does), and poll ``/map/live`` when the stream is not to be had."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
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

    def __init__(self, service: MapService, bodies: dict[str, Callable[[], Any]] | None = None) -> None:
        self.service = service
        self.bodies = bodies or {}
        """Layers whose change event carries the layer's new body (computed once for all streams)."""
        self.versions: dict[str, str] = {}
        self.carried: dict[str, Any] = {}
        self._nudged = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed = asyncio.Condition()
        self._listeners = 0
        self._task: asyncio.Task[None] | None = None

    def nudge(self) -> None:
        """Look now, not at the next tick (from any thread: the warning loop, after it wrote)."""
        if self._loop is not None and self._task is not None:
            self._loop.call_soon_threadsafe(self._nudged.set)

    async def _run(self) -> None:
        try:
            while self._listeners > 0:
                versions = await run_in_threadpool(self.service.versions)
                if versions != self.versions:
                    for layer, body in self.bodies.items():  # before the new tokens are seen: a stream sends a token with its body
                        if versions.get(layer) != self.versions.get(layer):
                            self.carried[layer] = await run_in_threadpool(body)
                    self.versions = versions
                    async with self._changed:
                        self._changed.notify_all()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._nudged.wait(), POLL_S)
                self._nudged.clear()
        finally:
            self._task = None

    @asynccontextmanager
    async def listening(self) -> AsyncIterator[None]:
        """While a stream is open: the tokens are kept fresh."""
        self._listeners += 1
        if self._task is None:
            self.versions = await run_in_threadpool(self.service.versions)
            self._loop = asyncio.get_running_loop()
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
            versions, carried = dict(watch.versions), dict(watch.carried)
            for layer in [layer for layer, token in versions.items() if sent.get(layer) != token]:
                change = {"layer": layer, "version": versions[layer], "first": layer not in sent}
                if layer in sent and layer in carried:
                    change["body"] = carried[layer]  # the page draws it without asking again
                yield {"event": "change", "data": json.dumps(change, ensure_ascii=False)}
            sent = versions
            await watch.wait(min(1.0, max(0.0, deadline - loop.time())))  # at least each second: a closed connection is noticed


@router.get("/events", summary="Server-sent events: which live layer changed (text/event-stream)", response_class=EventSourceResponse,
            responses={200: {"description": "An endless text/event-stream of `change` events", "content": {"text/event-stream": {"schema": {"type": "string"}}}}})
def events(request: Request,
           seconds: Annotated[float, Query(ge=1, le=3600, description="How long the stream stays open; then the server ends it and the page reconnects (EventSource does by itself).")] = 300.0) -> EventSourceResponse:
    watch: VersionWatch = request.app.state.version_watch
    return EventSourceResponse(_changes(request, watch, seconds), ping=15, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
