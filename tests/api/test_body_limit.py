"""ONEMAP_MAX_BODY_MB against a real `onemap serve` over raw sockets: a declared or a chunked body
over the cap gets 413 before authentication or the login form reads it; one under the cap is
handled as usual."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from layers.settings import Settings
from tests.helpers import secured_copy, serving

CAP_MB = 1
pytestmark = pytest.mark.xdist_group("capped")


def _raw(url: str, head: str, body_chunks: list[bytes] | None = None) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=20) as connection:
        connection.sendall(head.encode())
        try:
            for chunk in body_chunks or []:
                connection.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may close once it has answered
        answer = b""
        while True:
            try:
                data = connection.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            answer += data
            if b"\r\n\r\n" in answer and b"PayloadTooLarge" in answer:
                break
    return answer


@pytest.fixture(scope="module")
def capped(sample_gpkg: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """One capped server for this module's tests (on one worker); they only add an incident."""
    settings, accounts, tokens = secured_copy(sample_gpkg, tmp_path_factory.mktemp("capped"), {"ed": "editor"})
    accounts.close()
    with serving(Settings(store=settings.store, auth="required", max_body_mb=CAP_MB)) as url:
        yield url, tokens["ed"]


def test_a_declared_oversize_body_is_refused_before_authentication(capped: tuple[str, str]) -> None:
    url, _ = capped
    size = (CAP_MB + 4) * 1_048_576
    for path in ("/incidents", "/login", "/coverage/site"):
        head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {size}\r\n\r\n"
        answer = _raw(url, head)  # not one byte of the body is sent: the answer must not wait for it
        assert answer.startswith(b"HTTP/1.1 413"), (path, answer[:200])
        assert b"ONEMAP_MAX_BODY_MB" in answer


def test_a_chunked_oversize_body_is_cut_off_at_the_cap(capped: tuple[str, str]) -> None:
    url, _ = capped
    piece = b"x" * 65536
    chunks = [b"%x\r\n%s\r\n" % (len(piece), piece)] * (CAP_MB * 16 + 8) + [b"0\r\n\r\n"]
    head = "POST /incidents HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    answer = _raw(url, head, chunks)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def test_a_body_under_the_cap_is_served(capped: tuple[str, str]) -> None:
    url, token = capped
    padding = "备注" * 100_000  # about 600 kB of UTF-8, under 1 MB
    response = httpx.post(f"{url}/incidents", json={"lon": 116.59, "lat": 35.41, "kind": "火灾", "padding": padding}, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert response.status_code == 422, "read and validated (an unknown field), not refused for size"
    assert httpx.post(f"{url}/incidents", json={"lon": 116.59, "lat": 35.41, "kind": "火灾"}, headers={"Authorization": f"Bearer {token}"}, timeout=30).status_code == 201
