"""Security headers on every response, and a Content-Security-Policy on our own HTML pages.

Every response says ``X-Content-Type-Options: nosniff``. Our HTML pages (``/map``, ``/login``,
``/s/*`` and the error pages) also get ``Content-Security-Policy`` with ``script-src 'self'`` (no
inline script: a name from the data can never run as script, even if one slipped through as
markup), ``frame-ancestors 'self'`` and ``Referrer-Policy: no-referrer``, so that a share token in
the URL never leaves in a Referer header. ``/docs`` and ``/redoc`` are FastAPI's pages, which start
from inline script; they get the other headers, not the CSP.

Written as a plain ASGI middleware (not Starlette's BaseHTTPMiddleware) so streaming responses
pass through untouched.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

DOC_PAGES = ("/docs", "/redoc")


def image_sources(tile_urls: Iterable[str]) -> list[str]:
    """CSP host sources for configured basemap tile URLs: ``https://t{s}.example.cn/…`` →
    ``https://*.example.cn`` (a ``{…}`` label becomes the wildcard CSP allows)."""
    sources = []
    for url in tile_urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            continue
        labels = parts.hostname.split(".")
        if "{" in labels[0] or "}" in labels[0]:
            labels[0] = "*"
        host = ".".join(labels)
        if "{" in host:
            continue  # a placeholder deeper in the name: CSP cannot express it; the tiles stay blocked
        port = f":{parts.port}" if parts.port else ""
        sources.append(f"{parts.scheme}://{host}{port}")
    return sorted(set(sources))


def content_security_policy(tile_urls: Iterable[str] = ()) -> str:
    """The policy of our pages: everything from this origin; images also from data:/blob: (the
    PNG export) and from the configured basemap hosts."""
    images = " ".join(["'self'", "data:", "blob:", *image_sources(tile_urls)])
    return (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        f"img-src {images}; font-src 'self' data:; connect-src 'self'; worker-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
    )


class SecurityHeaders:
    """Adds the headers above to every HTTP response of ``app``."""

    def __init__(self, app: ASGIApp, *, policy: str) -> None:
        self.app = app
        self.policy = policy.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        documentation = path in DOC_PAGES or path.startswith("/docs/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in (b"x-content-type-options",)]
                headers.append((b"x-content-type-options", b"nosniff"))
                content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                if content_type.startswith(b"text/html") and not documentation:
                    names = {k.lower() for k, _ in headers}
                    headers.append((b"content-security-policy", self.policy))
                    headers.append((b"x-frame-options", b"SAMEORIGIN"))
                    if b"referrer-policy" not in names:
                        headers.append((b"referrer-policy", b"no-referrer"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)
