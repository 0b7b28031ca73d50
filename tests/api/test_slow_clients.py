"""Slow clients against a real `onemap serve` over raw sockets (``api.request_deadlines``): a
connection that sends nothing, a head trickled a byte at a time, a body that stops and an answer
never read are cut off once their deadline passes (here 1.5 s), while a slow but steady body is
served, pipelined requests get the same deadlines as any other (a long answer and a slow body
after another request are not cut off), keep-alive still works, and hundreds of idle connections
neither stop others being served nor stay open."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from layers.settings import Settings
from tests.helpers import secured_copy, serving

DEADLINE_S = 1.5
LATE_S = 12.0
"""A closed connection must be closed by then (a loaded machine delays the server's timers)."""
pytestmark = pytest.mark.xdist_group("slow-clients")


@pytest.fixture(scope="module")
def server(sample_gpkg: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    settings, accounts, tokens = secured_copy(sample_gpkg, tmp_path_factory.mktemp("slow"), {"ed": "editor"})
    accounts.close()
    with serving(Settings(store=settings.store, auth="required", request_head_timeout_s=DEADLINE_S, request_body_idle_s=DEADLINE_S,
                          response_send_stalled_s=DEADLINE_S)) as url:
        yield url, tokens["ed"]


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=LATE_S)


def _closed_after(connection: socket.socket, started: float) -> tuple[float, bytes]:
    """Read until the server closes; the seconds since ``started`` and what it sent."""
    got = b""
    while True:
        try:
            data = connection.recv(65536)
        except (ConnectionResetError, TimeoutError):
            break
        if not data:
            break
        got += data
    return time.monotonic() - started, got


def test_a_connection_that_sends_nothing_is_closed(server: tuple[str, str]) -> None:
    with _connect(server[0]) as connection:
        seconds, got = _closed_after(connection, time.monotonic())
    assert got == b"" and DEADLINE_S * 0.9 <= seconds < LATE_S


def test_a_head_trickled_a_byte_at_a_time_is_cut_off(server: tuple[str, str]) -> None:
    head = b"GET /conformance HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: " + b"a" * 200
    started = time.monotonic()
    with _connect(server[0]) as connection:
        connection.settimeout(0.25)
        for byte in head:  # a byte every 0.25 s: never idle long, never done
            try:
                connection.send(bytes([byte]))
                if connection.recv(1) == b"":
                    break
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
        seconds = time.monotonic() - started
    assert DEADLINE_S * 0.9 <= seconds < LATE_S, f"cut off after {seconds:.1f} s"


def test_a_body_that_stops_is_cut_off(server: tuple[str, str]) -> None:
    url, token = server
    started = time.monotonic()
    with _connect(url) as connection:
        connection.sendall(f"POST /incidents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n".encode() + b'{"lon": 116.5')
        seconds, got = _closed_after(connection, started)
    assert b"201" not in got and DEADLINE_S * 0.9 <= seconds < LATE_S


def test_a_slow_steady_body_is_served(server: tuple[str, str]) -> None:
    url, token = server
    body = json.dumps({"lon": 116.59, "lat": 35.41, "kind": "火灾", "name": "慢速上传"}, ensure_ascii=False).encode()
    parts = [body[i : i + 8] for i in range(0, len(body), 8)]
    assert len(parts) * 0.5 > DEADLINE_S * 2, "the whole body takes longer than the deadline"
    with _connect(url) as connection:
        connection.sendall(f"POST /incidents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode())
        for part in parts:
            time.sleep(0.5)
            connection.sendall(part)
        _, got = _closed_after(connection, time.monotonic())
    assert got.startswith(b"HTTP/1.1 201"), got[:200]


def test_keep_alive_works_and_the_head_clock_starts_again_after_each_response(server: tuple[str, str]) -> None:
    request = b"GET /conformance HTTP/1.1\r\nHost: x\r\n\r\n"
    with _connect(server[0]) as connection:
        for _ in range(2):
            connection.sendall(request)
            answer = b""
            while b"conformsTo" not in answer:
                answer += connection.recv(65536)
            assert answer.startswith(b"HTTP/1.1 200")
            time.sleep(DEADLINE_S * 0.5)
        seconds, got = _closed_after(connection, time.monotonic())
    assert got == b"" and seconds < LATE_S


def test_hundreds_of_idle_connections_do_not_stop_others_and_are_closed(server: tuple[str, str]) -> None:
    url = server[0]
    idle = [_connect(url) for _ in range(300)]
    try:
        assert httpx.get(f"{url}/conformance", timeout=10).status_code == 200
        started = time.monotonic()
        for connection in idle:
            connection.settimeout(max(0.1, LATE_S - (time.monotonic() - started)))
            assert _closed_after(connection, started)[1] == b""
        assert time.monotonic() - started < LATE_S
    finally:
        for connection in idle:
            connection.close()


def test_pipelined_requests_get_the_same_deadlines_as_any_other(server: tuple[str, str]) -> None:
    url, token = server
    # A long answer (the event stream) asked for behind another request: not cut off at the
    # head's deadline, as if it were a client that never sent its head.
    with _connect(url) as connection:
        connection.sendall(f"GET /conformance HTTP/1.1\r\nHost: x\r\n\r\nGET /events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
        connection.settimeout(DEADLINE_S * 3)
        started, got = time.monotonic(), b""
        try:
            while time.monotonic() - started < DEADLINE_S * 3:
                data = connection.recv(65536)
                if not data:
                    break
                got += data
        except TimeoutError:
            pass
        assert time.monotonic() - started >= DEADLINE_S * 2.5, "the event stream was cut off"
        assert b"text/event-stream" in got
    # A slow but steady body behind another request: served.
    body = json.dumps({"lon": 116.59, "lat": 35.41, "kind": "火灾", "name": "排队上传"}, ensure_ascii=False).encode()
    with _connect(url) as connection:
        connection.sendall(b"GET /conformance HTTP/1.1\r\nHost: x\r\n\r\n" + f"POST /incidents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode())
        for first in range(0, len(body), 8):
            time.sleep(0.5)
            connection.sendall(body[first : first + 8])
        _, got = _closed_after(connection, time.monotonic())
    assert got.count(b"HTTP/1.1 200") == 1 and b"HTTP/1.1 201" in got, got[:300]


def test_an_answer_never_read_is_dropped(server: tuple[str, str]) -> None:
    url, token = server
    request = f"GET /collections/roads/items?limit=10000 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
    with socket.socket() as connection:
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a client that reads nothing fills this at once
        host, port = url.removeprefix("http://").split(":")
        connection.settimeout(LATE_S)
        connection.connect((host, int(port)))
        # Three answers of about 3 MB: more than the kernel's buffers take (4 MB here), so the rest
        # waits in the server's memory for a client that does not read.
        connection.sendall(request * 3)
        time.sleep(DEADLINE_S * 3)  # reads nothing meanwhile
        seconds, got = _closed_after(connection, time.monotonic())
    head = got.partition(b"\r\n\r\n")[0]
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
    assert length > 1_000_000, "an answer too large for the connection's buffers"
    assert seconds < LATE_S and len(got) < 3 * length and got.count(b"HTTP/1.1 200") < 3, f"dropped before the end: {len(got):,} bytes of 3 × {length:,}"


def test_an_answer_read_slowly_but_steadily_is_sent_whole(server: tuple[str, str]) -> None:
    url, token = server
    request = f"GET /collections/roads/items?limit=10000 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
    with socket.socket() as connection:
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 262_144)
        host, port = url.removeprefix("http://").split(":")
        connection.settimeout(LATE_S)
        connection.connect((host, int(port)))
        connection.sendall(request * 2 + b"GET /conformance HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        started, got = time.monotonic(), b""
        while b"conformsTo" not in got:
            time.sleep(0.1)  # at most 256 kB every 0.1 s: slower than the server writes, never stopped for long
            data = connection.recv(262_144)
            if not data:
                break
            got += data
    assert got.count(b"HTTP/1.1 200") == 3 and b"conformsTo" in got, f"all three answers whole ({len(got):,} bytes in {time.monotonic() - started:.1f} s)"
