"""Test helpers: run the real CLI against a store, and snapshot a store layer."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import geopandas as gpd
import httpx
from click.testing import CliRunner, Result

from api.cli import main
from layers.accounts.store import AccountStore
from layers.settings import Settings
from layers.store import open_store


def settings_env(settings: Settings) -> dict[str, str]:
    """``settings`` as the ONEMAP_* environment a process would read them from: only what was set
    (defaults stay defaults, so that the store's city profile applies as it would for a user)."""
    return {
        f"ONEMAP_{name.upper()}": json.dumps(value, ensure_ascii=False) if isinstance(value, tuple | list | dict) else str(value)
        for name, value in settings.model_dump(exclude_unset=True).items()
        if value is not None  # unset stays unset (not the text "None")
    }


TEST_PASSWORD = "a-long-enough-password"


def secured_copy(sample_gpkg: Path, folder: Path, users: dict[str, str]) -> tuple[Settings, AccountStore, dict[str, str]]:
    """A copy of the sample city with auth on and the given users (name → role), each with the
    password ``TEST_PASSWORD`` and an API token; returns the settings, the (open) account store
    and the tokens by user name. Risk zoning at 500 m: the wall map and the routes that read it
    start a zoning job, which at the default 100 m cost a core for many seconds per copy."""
    store = folder / "store.gpkg"
    shutil.copy(sample_gpkg, store)
    settings = Settings(store=str(store), auth="required", risk_resolution_m=500.0)
    accounts = AccountStore.for_settings(settings)
    tokens = {}
    for name, role in users.items():
        accounts.add_user(name, TEST_PASSWORD, role)
        tokens[name] = accounts.new_api_token(name)
    return settings, accounts, tokens


def run_cli(settings: Settings, *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=settings_env(settings), catch_exceptions=False)


def snapshot(settings: Settings, layer: str) -> gpd.GeoDataFrame:
    with open_store(settings) as store:
        return store.read(layer)


@contextmanager
def serving(settings: Settings) -> Iterator[str]:
    """`onemap serve` in its own process on a free loopback port; yields its base URL."""
    with server_process(settings) as server:
        yield server.url


@dataclass
class Server:
    """A running `onemap serve`: its URL, its process, and what it has logged so far."""

    url: str
    process: subprocess.Popen[str]
    log: IO[str]

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()


@contextmanager
def server_process(settings: Settings) -> Iterator[Server]:
    """`onemap serve` in its own process on a free loopback port.

    A separate process, not a thread: GDAL's HTTP client (pyogrio) holds the GIL while it waits,
    so a server thread in the test process could never answer it.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    command = [str(Path(sys.executable).parent / "onemap"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    env = {**os.environ, **settings_env(settings)}
    # The server's output goes to a file: a pipe nobody reads fills up and blocks the server.
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        try:
            # One client for all the polls: each bare httpx.get builds an SSL context (45 ms of CPU).
            with httpx.Client(timeout=1) as probe:
                while True:
                    if process.poll() is not None:
                        log.seek(0)
                        raise RuntimeError(f"onemap serve exited: {log.read()}")
                    try:
                        if probe.get(f"{url}/conformance").status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    if time.monotonic() > deadline:
                        raise RuntimeError("onemap serve did not answer within 30 s")
                    time.sleep(0.1)
            yield Server(url, process, log)
        finally:
            stop(process)


def stop(process: subprocess.Popen[str]) -> None:
    """Terminate a server process, killing it if it does not stop within 10 s."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def when_ready(send: Callable[[], Any], *, timeout_s: float = 300) -> Any:
    """``send()`` again while it answers 202 (an analysis computing in the background), as the
    Retry-After asks but faster; returns the first other response."""
    deadline = time.monotonic() + timeout_s
    while True:
        response = send()
        if response.status_code != 202:
            return response
        assert "Retry-After" in response.headers and response.json()["status"] == "computing"
        assert time.monotonic() < deadline, f"still computing after {timeout_s} s: {response.json()}"
        time.sleep(0.2)
