"""A cap on request bodies (``ONEMAP_MAX_BODY_MB``), enforced before any route or dependency runs.

The check sits outside the app, so an over-long body is refused before authentication, the login
form or JSON parsing reads it: a declared ``Content-Length`` above the cap is answered 413 at once
without reading a byte, and a chunked body is counted as it arrives and cut off at the cap.
Written as plain ASGI (Starlette has no body limit of its own).
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyLimit:
    """Answers 413 to any HTTP request whose body exceeds ``max_bytes``."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _refuse(self, send: Send) -> None:
        megabytes = self.max_bytes / 1_048_576
        body = json.dumps({"code": "PayloadTooLarge", "description": f"the request body is larger than {megabytes:g} MB (ONEMAP_MAX_BODY_MB); send less, or import big files with onemap import"}, ensure_ascii=False).encode()
        await send({"type": "http.response.start", "status": 413, "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = next((v for k, v in scope.get("headers", []) if k.lower() == b"content-length"), None)
        if declared is not None:
            try:
                too_long = int(declared) > self.max_bytes
            except ValueError:
                too_long = False  # the server itself refuses a malformed length
            if too_long:
                await self._refuse(send)
                return
        received = 0
        started = refused = False

        async def counted() -> Message:
            # Past the cap: answer 413 ourselves and tell the app the client left, so whatever it
            # makes of a cut-off body (FastAPI: a 400) is never sent.
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    refused = True
                    if not started:
                        await self._refuse(send)
                    return {"type": "http.disconnect"}
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counted, tracked)
