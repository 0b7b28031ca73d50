"""The failure limiter on its own: per key, a moving window, and no key can pose as another."""

from __future__ import annotations

import time

import pytest

from api.rate_limit import FailureLimiter
from layers.errors import TooManyAttemptsError


def test_failures_block_only_their_own_key_and_only_for_the_window() -> None:
    limiter = FailureLimiter(limit=2, window_s=1.0)
    limiter.fail("password", "10.0.0.1", "a/b")
    limiter.check("password", "10.0.0.1", "a/b")  # one failure: still allowed
    limiter.fail("password", "10.0.0.1", "a/b")
    with pytest.raises(TooManyAttemptsError, match="wait 1 s"):
        limiter.check("password", "10.0.0.1", "a/b")
    limiter.check("password", "10.0.0.1/a", "b")  # the same parts joined differently are another key
    limiter.check("password", "10.0.0.2", "a/b")  # another address
    limiter.check("token", "10.0.0.1", "a/b")  # another kind of credential
    time.sleep(1.1)
    limiter.check("password", "10.0.0.1", "a/b")  # the window has passed
