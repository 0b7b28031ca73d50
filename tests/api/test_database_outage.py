"""PostgreSQL goes away under a running app and comes back: the routes answer 503 with
Retry-After and never the database's address, then serve again without a restart. The server
is reached through a TCP relay that the test cuts and restores."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import geopandas as gpd
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from layers.settings import Settings
from layers.store import open_store


class Relay:
    """Forwards a local port to the real PostgreSQL; ``cut`` drops every connection and refuses
    new ones, ``restore`` listens again on the same port."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self._open: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            self._open += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        assert self._listener is not None
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() blocked on it (a close alone does not)
        self._listener.close()
        for connection in self._open:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()
        self._open.clear()


@pytest.fixture
def relay(pg_url: str) -> Iterator[tuple[Relay, str]]:
    parts = urlsplit(pg_url)
    relay = Relay(parts.hostname or "127.0.0.1", parts.port or 5432)
    netloc = parts.netloc.rsplit("@", 1)[0] + f"@127.0.0.1:{relay.port}" if "@" in parts.netloc else f"127.0.0.1:{relay.port}"
    yield relay, urlunsplit(parts._replace(netloc=netloc))
    relay.cut()


def test_a_database_outage_is_503_with_retry_after_and_no_address(relay: tuple[Relay, str], pg_schema: str, sample_city: dict[str, gpd.GeoDataFrame]) -> None:
    link, url = relay
    settings = Settings(store=url, pg_schema=pg_schema)
    with open_store(settings) as store:
        store.upsert_many({"shelters": sample_city["shelters"]})
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        assert client.get("/collections/shelters/items", params={"limit": 5}).status_code == 200
        link.cut()
        for path in ("/collections/shelters/items", "/collections/shelters", "/map/live"):
            response = client.get(path)
            assert response.status_code == 503, (path, response.status_code, response.text)
            assert response.headers["Retry-After"].isdigit()
            for secret in ("127.0.0.1", str(link.port), "postgresql", pg_schema, urlsplit(url).path.strip("/")):
                assert secret not in response.text, (path, secret, response.text)
        link.restore()
        answers = [client.get("/collections/shelters/items", params={"limit": 5}).status_code for _ in range(3)]
        assert answers[-1] == 200, f"serves again once the database is back: {answers}"
