"""The failure limits seen from outside, on `onemap serve` as a process (uvicorn's own handling of
forwarded headers included): failures block only their own (kind, address, name), a valid
credential is never refused, forged X-Forwarded-For changes nothing unless a trusted proxy sent
it, and bad session cookies are limited like bad tokens."""

from __future__ import annotations

from pathlib import Path

import httpx

from layers.accounts.store import new_token
from tests.helpers import secured_copy, server_process

LIMIT = 20  # failures per key per window (api.rate_limit.FailureLimiter's default)


def _statuses(send: httpx.Client, count: int, **request: object) -> list[int]:
    return [send.get("/auth/me", **request).status_code for _ in range(count)]  # type: ignore[arg-type]


def test_failures_never_lock_out_a_valid_credential_and_forged_addresses_do_not_help(sample_gpkg: Path, tmp_path: Path) -> None:
    settings, accounts, tokens = secured_copy(sample_gpkg, tmp_path, {"viewer": "viewer"})
    accounts.close()
    with server_process(settings) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        # Bad tokens, each from a "different" forwarded address: the header is not believed.
        bad = [http.get("/auth/me", headers={"Authorization": f"Bearer {new_token()}", "X-Forwarded-For": f"203.0.113.{n}"}).status_code for n in range(LIMIT + 3)]
        assert bad[:LIMIT] == [401] * LIMIT and set(bad[LIMIT:]) == {429}, bad
        assert http.get("/auth/me", headers={"Authorization": f"Bearer {tokens['viewer']}"}).status_code == 200, "a valid token is never refused"
        # Bad session cookies are failures too.
        cookies = [http.get("/auth/me", headers={"Cookie": f"onemap_session={new_token()}"}).status_code for _ in range(LIMIT + 2)]
        assert set(cookies[LIMIT:]) == {429}, cookies
        # Wrong passwords for one name block that name from this address, not another user.
        wrong = [http.post("/login", data={"username": "viewer", "password": "wrong-password!"}).status_code for _ in range(LIMIT + 1)]
        assert wrong[:LIMIT] == [401] * LIMIT and wrong[LIMIT] == 429, wrong
        other = http.post("/login", data={"username": "nobody-else", "password": "wrong-password!"})
        assert other.status_code == 401, "another name's failures are its own"


def test_a_trusted_proxy_s_forwarded_address_is_each_client_s_own(sample_gpkg: Path, tmp_path: Path) -> None:
    settings, accounts, tokens = secured_copy(sample_gpkg, tmp_path, {"viewer": "viewer"})
    accounts.close()
    trusted = settings.model_copy(update={"trusted_proxies": ["127.0.0.1"]})
    with server_process(trusted) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        for _ in range(LIMIT + 1):
            http.get("/auth/me", headers={"Authorization": f"Bearer {new_token()}", "X-Forwarded-For": "198.51.100.7"})
        blocked = http.get("/auth/me", headers={"Authorization": f"Bearer {new_token()}", "X-Forwarded-For": "198.51.100.7"})
        assert blocked.status_code == 429
        another = http.get("/auth/me", headers={"Authorization": f"Bearer {new_token()}", "X-Forwarded-For": "198.51.100.8"})
        assert another.status_code == 401, "the proxy's other clients are not blocked by one client's failures"
