"""MQTT ingest (layers/io/mqtt_ingest.py) against a real Mosquitto started by the test, with
persistence on: no report is lost when the broker restarts or onemap is away, bad payloads reach
the checks as records they dead-letter, and a handler that fails gets its message again.

Every wait is bounded (a few seconds) and fails with what was seen. Mosquitto missing → the test
FAILS (it is never skipped): run `bash .ci/ensure-mosquitto` (or `bash .ci/run`)."""

from __future__ import annotations

import os
import pwd
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from layers.errors import InputError
from layers.io.mqtt_ingest import (
    check_topic_filter,
    parse_broker_url,
    records_from_payload,
    run_mqtt_ingest,
    station_from_topic,
)
from layers.io.observations import DeadLetter, StationInfo, check_observations

MOSQUITTO = Path("/usr/sbin/mosquitto")
TOPIC = "onemap/+/obs"
STATIONS = {"ST001": StationInfo("ST001", "水位", "m"), "ST002": StationInfo("ST002", "雨量", "mm")}
START = datetime(2024, 7, 1, 0, 0, tzinfo=UTC)
NOW = START + timedelta(days=1)
WAIT_S = 15.0
"""The longest any wait may take: a reconnect takes 1–2 s (paho's first backoff is 1 s)."""


def wait_until(done: Callable[[], bool], what: Callable[[], str], *, timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {timeout_s:g} s: {what()}")
        time.sleep(0.02)


# --- the broker --------------------------------------------------------------------------------


class Broker:
    """A Mosquitto of the test's own on a free loopback port, persisting to ``folder``."""

    def __init__(self, folder: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.folder = folder
        self.log = folder / "mosquitto.log"
        self.config = folder / "mosquitto.conf"
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {folder}/\n"
            f"user {pwd.getpwuid(os.getuid()).pw_name}\n"  # as root it would switch to user mosquitto
            "set_tcp_nodelay true\n"
            "log_dest stdout\n"
        )
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen([str(MOSQUITTO), "-c", str(self.config)], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 5
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"mosquitto did not start on port {self.port}:\n{self.log.read_text(errors='replace')}")
                time.sleep(0.02)

    def stop(self) -> None:
        """SIGTERM, so that Mosquitto writes its persistence database (SIGKILL would lose it)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
            pytest.fail(f"mosquitto ignored SIGTERM for 5 s:\n{self.log.read_text(errors='replace')}")


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    if not os.access(MOSQUITTO, os.X_OK):
        pytest.fail(f"{MOSQUITTO} is missing: run `bash .ci/ensure-mosquitto` (Debian: apt-get install mosquitto)")
    running = Broker(tmp_path)
    running.start()
    try:
        yield running
    finally:
        if running.process is not None and running.process.poll() is None:
            running.process.kill()
            running.process.wait(timeout=5)


# --- onemap's side and a platform's publisher ---------------------------------------------------


class Ingest:
    """What ``run_mqtt_ingest`` handed over, checked as the store will check it."""

    def __init__(self, fail_first: int = 0) -> None:
        self.lock = threading.Lock()
        self.keys: set[tuple[str, datetime]] = set()
        self.dead: list[DeadLetter] = []
        self.calls = 0
        self.statuses: list[str] = []
        self.fail_first = fail_first

    def handle(self, records: list[dict[str, Any]], source: str) -> None:
        with self.lock:
            self.calls += 1
            if self.calls <= self.fail_first:
                raise RuntimeError("the store is down")
            kept, dead = check_observations(records, STATIONS, source=source, now=NOW)
            self.keys.update((o.station_id, o.time) for o in kept)
            self.dead.extend(dead)

    def status(self, line: str) -> None:
        with self.lock:
            self.statuses.append(line)

    def count(self, line: str) -> int:
        with self.lock:
            return sum(status.startswith(line) for status in self.statuses)


@contextmanager
def ingesting(url: str, ingest: Ingest, *, client_id: str) -> Iterator[Ingest]:
    """``run_mqtt_ingest`` in a thread, connected and subscribed; stopped (within 5 s) on exit."""
    stop = threading.Event()
    connected_before = ingest.count("connected")
    thread = threading.Thread(
        target=run_mqtt_ingest,
        args=(url, TOPIC, ingest.handle),
        kwargs={"client_id": client_id, "stop": stop, "on_status": ingest.status, "max_backoff_s": 2.0},
        daemon=True,
    )
    thread.start()
    try:
        wait_until(lambda: ingest.count("connected") > connected_before, lambda: f"ingest never connected: {ingest.statuses}", timeout_s=5)
        yield ingest
    finally:
        stop.set()
        thread.join(timeout=5)
        assert not thread.is_alive(), f"run_mqtt_ingest did not return within 5 s of stop: {ingest.statuses}"


@contextmanager
def publisher(url: str) -> Iterator[mqtt.Client]:
    """A platform's publisher: QoS 1 on a persistent session, retrying every second."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"platform-{uuid.uuid4().hex[:8]}", clean_session=False, protocol=MQTTProtocolVersion.MQTTv311)
    client.reconnect_delay_set(min_delay=1, max_delay=1)
    host, port = parse_broker_url(url)
    client.connect_async(host, port)
    client.loop_start()
    try:
        wait_until(client.is_connected, lambda: "the publisher never connected", timeout_s=5)
        yield client
    finally:
        client.disconnect()
        client.loop_stop()


def report(number: int) -> tuple[str, str, tuple[str, datetime]]:
    """Message ``number``: its topic, payload and (station, time) key. Odd numbers leave the
    station to the topic; even ones name it in the payload too."""
    station = ("ST001", "ST002")[number % 2]
    time_ = START + timedelta(minutes=number)
    station_field = f'"station": "{station}", ' if number % 2 == 0 else ""
    return f"onemap/{station}/obs", f'{{{station_field}"time": "{time_.isoformat()}", "value": {number / 10}}}', (station, time_)


def publish(client: mqtt.Client, numbers: range) -> tuple[set[tuple[str, datetime]], list[mqtt.MQTTMessageInfo]]:
    keys, infos = set(), []
    for number in numbers:
        topic, payload, key = report(number)
        infos.append(client.publish(topic, payload, qos=1))
        keys.add(key)
    return keys, infos


def missing(ingest: Ingest, keys: set[tuple[str, datetime]]) -> str:
    with ingest.lock:
        lost = sorted(keys - ingest.keys)
    return f"{len(lost)} of {len(keys)} reports never handled (first: {lost[:3]}); statuses: {ingest.statuses}"


# --- with the broker ---------------------------------------------------------------------------


def test_no_report_is_lost_when_the_broker_restarts(broker: Broker) -> None:
    ingest = Ingest()
    with ingesting(broker.url, ingest, client_id="onemap-restart"), publisher(broker.url) as platform:
        keys, _ = publish(platform, range(150))
        broker.stop()  # mid-stream: some reports queued for onemap, some not yet acknowledged
        more, infos = publish(platform, range(150, 300))  # the broker is down: paho queues them
        broker.start()
        keys |= more
        assert len(keys) == 300
        wait_until(lambda: keys <= ingest.keys, lambda: missing(ingest, keys))
        wait_until(lambda: all(info.is_published() for info in infos), lambda: "the publisher's reports were never acknowledged")
    assert ingest.count("disconnected: connection lost") >= 1 and ingest.count("connected") >= 2, ingest.statuses
    assert ingest.dead == []


def test_reports_published_while_onemap_is_away_arrive_when_it_returns(broker: Broker) -> None:
    ingest = Ingest()
    with ingesting(broker.url, ingest, client_id="onemap-away"):
        pass  # the first visit creates the persistent session and its subscription
    with publisher(broker.url) as platform:
        keys, infos = publish(platform, range(100))
        wait_until(lambda: all(info.is_published() for info in infos), lambda: "the broker never acknowledged the reports")
    assert ingest.keys == set()
    with ingesting(broker.url, ingest, client_id="onemap-away"):
        wait_until(lambda: keys <= ingest.keys, lambda: missing(ingest, keys))


def test_bad_payloads_reach_the_checks_as_dead_letters(broker: Broker) -> None:
    ingest = Ingest()
    good = START.isoformat()
    messages = [
        ("onemap/ST001/obs", b"water level 35.2"),
        ("onemap/ST001/obs", b"\xff\xfe\x00garbage"),
        ("onemap/ST001/obs", b"42"),
        ("onemap/ST001/obs", f'{{"time": "{good}", "value": "high"}}'.encode()),
        ("onemap/ST999/obs", f'{{"time": "{good}", "value": 1.0}}'.encode()),
        ("onemap/ST002/obs", f'[{{"time": "{good}", "value": 1.5}}, {{"time": "{good}", "value": 2, "unit": "cm"}}, 7]'.encode()),
        # messages that once stopped the ingest for good (never acknowledged, delivered again and again):
        ("onemap/ST001/obs", b"[" * 100_000 + b"]" * 100_000),
        ("onemap/ST001/obs", f'{{"time": "{good}", "value": 40, "quality": "bad\\u0000q"}}'.encode()),
        ("onemap/ST001/obs", b"[" + b"0," * 10_000 + b"0]"),
        ("onemap/ST001/obs", f'{{"time": "{(START + timedelta(minutes=1)).isoformat()}", "value": 35.0}}'.encode()),  # and the next one is stored
    ]
    with ingesting(broker.url, ingest, client_id="onemap-bad"), publisher(broker.url) as platform:
        for topic, payload in messages:
            platform.publish(topic, payload, qos=1)
        wait_until(lambda: len(ingest.dead) >= 10 and len(ingest.keys) >= 2, lambda: f"dead letters so far: {ingest.dead}; statuses {ingest.statuses}")
    assert ingest.keys == {("ST002", START), ("ST001", START + timedelta(minutes=1))}
    assert sorted((d.source, d.reason) for d in ingest.dead) == sorted(
        [
            ("mqtt onemap/ST001/obs", "payload is not a JSON object or a list of objects"),
            ("mqtt onemap/ST001/obs", "payload is not a JSON object or a list of objects"),
            ("mqtt onemap/ST001/obs", "payload is not a JSON object or a list of objects"),
            ("mqtt onemap/ST001/obs", "value 'high' is not a number"),
            ("mqtt onemap/ST999/obs", "unknown station ST999"),
            ("mqtt onemap/ST002/obs", "unit cm does not match station ST002's unit mm (a length on another scale is not converted: the platform must send mm)"),
            ("mqtt onemap/ST002/obs", "payload is not a JSON object or a list of objects"),
            ("mqtt onemap/ST001/obs", "payload is JSON nested too deep to be readings"),
            ("mqtt onemap/ST001/obs", "quality must be text of at most 64 characters without control characters or lone surrogates"),
            ("mqtt onemap/ST001/obs", "10,001 readings in one message; at most 10,000: publish several"),
        ]
    )
    assert "water level 35.2" in {d.payload for d in ingest.dead}


def test_a_message_whose_handler_fails_is_delivered_again(broker: Broker) -> None:
    ingest = Ingest(fail_first=1)
    with ingesting(broker.url, ingest, client_id="onemap-retry"), publisher(broker.url) as platform:
        keys, _ = publish(platform, range(5))
        wait_until(lambda: keys <= ingest.keys, lambda: missing(ingest, keys))
    assert ingest.count("handling a message failed (RuntimeError: the store is down)") == 1, ingest.statuses


def test_ingest_without_a_broker_keeps_retrying_and_stops_when_told(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ingest, stop = Ingest(), threading.Event()
    thread = threading.Thread(target=run_mqtt_ingest, args=(f"mqtt://127.0.0.1:{port}", TOPIC, ingest.handle), kwargs={"stop": stop, "on_status": ingest.status}, daemon=True)
    thread.start()
    wait_until(lambda: ingest.count("disconnected: cannot reach the broker") >= 1, lambda: f"statuses: {ingest.statuses}", timeout_s=5)
    stop.set()
    thread.join(timeout=3)
    assert not thread.is_alive(), "run_mqtt_ingest did not stop within 3 s"


# --- without the broker ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:1883", "scheme http"),
        ("127.0.0.1:1883", "scheme missing"),
        ("mqtt://:1883", "no host"),
        ("mqtt://broker:port", "Port could not be cast"),
        ("mqtt://broker:99999", "Port out of range"),
        ("mqtt://user:secret@broker:1883", "credentials in the URL are not supported"),
        ("mqtt://broker:1883/onemap/+/obs", "the topic is given apart"),
    ],
)
def test_a_bad_broker_url_says_what_form_is_expected(url: str, message: str) -> None:
    with pytest.raises(InputError, match=rf"{message}.*expected mqtt://HOST:PORT"):
        parse_broker_url(url)
    with pytest.raises(InputError, match="expected mqtt://HOST:PORT"):
        run_mqtt_ingest(url, TOPIC, lambda records, source: None)


def test_broker_urls() -> None:
    assert parse_broker_url("mqtt://10.0.0.5:11883") == ("10.0.0.5", 11883)
    assert parse_broker_url("mqtt://mq.example.cn") == ("mq.example.cn", 1883)


@pytest.mark.parametrize("topic", ["", "onemap/+x/obs", "onemap/#/obs", "onemap/ab#"])
def test_a_bad_topic_filter_is_an_input_error(topic: str) -> None:
    with pytest.raises(InputError, match="whole levels"):
        check_topic_filter(topic)


def test_the_station_comes_from_the_topic_when_the_payload_lacks_it() -> None:
    assert station_from_topic("onemap/+/obs", "onemap/ST001/obs") == "ST001"
    assert station_from_topic("onemap/#", "onemap/ST001/obs") is None
    assert station_from_topic("+/+/obs", "onemap/ST001/obs") is None
    assert records_from_payload(b'{"time": 1, "value": 2}', topic="onemap/ST001/obs", topic_filter=TOPIC) == [{"time": 1, "value": 2, "station": "ST001"}]
    assert records_from_payload(b'{"station_id": "ST002", "value": 2}', topic="onemap/ST001/obs", topic_filter=TOPIC) == [{"station_id": "ST002", "value": 2}]
    assert records_from_payload(b"[]", topic="onemap/ST001/obs", topic_filter=TOPIC) == []
    assert records_from_payload(b"NaN?", topic="onemap/ST001/obs", topic_filter=TOPIC) == [{"_raw": "NaN?"}]
