"""The rate limit on failed attempts (bad passwords, tokens, session cookies, share links), per
credential and per client address, and which address a request comes from."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from layers.errors import TooManyAttemptsError


class FailureLimiter:
    """At most ``limit`` failed attempts per key in ``window_s`` seconds; more → 429.

    Keys are (what, client address, credential name): a password guessed for one user from one
    address blocks only that pair, and a valid credential is checked before the limit, so nobody
    is refused for someone else's failures. Counted by the ``limits`` library's moving window in
    memory: a key holds at most ``limit`` timestamps and is dropped once its window has passed,
    so memory is bounded by the failures of one window, however many names are made up.
    """

    def __init__(self, limit: int = 20, window_s: float = 60.0) -> None:
        self.limit = limit
        self.window_s = window_s
        self._item = RateLimitItemPerSecond(limit, max(int(round(window_s)), 1))
        self._window = MovingWindowRateLimiter(MemoryStorage())

    @staticmethod
    def _parts(key: tuple[str, ...]) -> list[str]:
        # limits joins a key's parts with "/": quoted, a name holding "/" cannot pose as another key.
        return [quote(part, safe="") for part in key]

    def check(self, *key: str) -> None:
        if not self._window.test(self._item, *self._parts(key)):
            raise TooManyAttemptsError(f"too many failed attempts: wait {self.window_s:g} s and try again")

    def fail(self, *key: str) -> None:
        self._window.hit(self._item, *self._parts(key))


def client_of(request: Request) -> str:
    """The client's address: the peer's, or what a trusted proxy said (``ONEMAP_TRUSTED_PROXIES``;
    ``onemap serve`` passes only those to uvicorn's proxy-header handling)."""
    return request.client.host if request.client else "unknown"
