"""Gauge reports from a monitoring platform's MQTT broker, passed on to a handler as records.

QoS 1 on a persistent session (MQTT 3.1.1, ``clean_session=False``, a fixed client id): the
broker keeps what is published while onemap is away and delivers it on reconnect. A message is
acknowledged only after the handler returns (paho's manual acks), so one that was being stored
when onemap stopped or the store failed is delivered again: at least once, duplicates possible
(the store is keyed by station and time). Payloads are never trusted: whatever arrives becomes
records for ``layers.io.observations.check_observations``, which dead-letters what it cannot use.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from layers.errors import InputError
from layers.io.observations import MAX_PAYLOAD_CHARS, client_record

logger = logging.getLogger(__name__)

Handle = Callable[[list[dict[str, Any]], str], None]
"""Called with a message's records and its source (``mqtt <topic>``); returns once they are stored."""

DEFAULT_PORT = 1883
KEEPALIVE_S = 30
MAX_RECORDS_PER_MESSAGE = 10_000
"""Most readings one message may carry (as one HTTP request); more is one dead letter."""
QOS = 1
_URL_FORM = "expected mqtt://HOST:PORT, e.g. mqtt://127.0.0.1:1883"


def parse_broker_url(url: str) -> tuple[str, int]:
    """``mqtt://HOST:PORT`` → (host, port); the port defaults to 1883. Plain MQTT only: no TLS,
    no credentials in the URL. A bad URL is an ``InputError`` that shows the expected form."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as error:
        raise InputError(f"broker URL {url!r}: {error}; {_URL_FORM}") from None
    if parts.scheme != "mqtt":
        raise InputError(f"broker URL {url!r}: scheme {parts.scheme or 'missing'}; {_URL_FORM}")
    if not parts.hostname:
        raise InputError(f"broker URL {url!r}: no host; {_URL_FORM}")
    if parts.username or parts.password:
        raise InputError(f"broker URL {url!r}: credentials in the URL are not supported; {_URL_FORM}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise InputError(f"broker URL {url!r}: the topic is given apart, not in the URL; {_URL_FORM}")
    return parts.hostname, DEFAULT_PORT if port is None else port


def check_topic_filter(topic: str) -> None:
    """Raise ``InputError`` unless ``topic`` is a valid MQTT subscription (``+`` and ``#`` only as
    whole levels, ``#`` last)."""
    levels = topic.split("/")
    bad = (
        not topic
        or "\x00" in topic
        or any(("+" in level or "#" in level) and len(level) > 1 for level in levels)
        or "#" in levels[:-1]
    )
    if bad:
        raise InputError(f"MQTT topic {topic!r}: + and # stand for whole levels, # only last (e.g. onemap/+/obs)")


def station_from_topic(topic_filter: str, topic: str) -> str | None:
    """The level of ``topic`` matched by the filter's ``+`` (``onemap/+/obs`` and ``onemap/ST001/obs``
    → ``ST001``), or None when the filter has no ``+`` or more than one."""
    wild = [index for index, level in enumerate(topic_filter.split("/")) if level == "+"]
    levels = topic.split("/")
    if len(wild) != 1 or wild[0] >= len(levels):
        return None
    return levels[wild[0]] or None


def records_from_payload(payload: bytes | bytearray, *, topic: str, topic_filter: str) -> list[dict[str, Any]]:
    """A message's records: a JSON object gives one, a JSON list one per item. Anything else (not
    UTF-8, not JSON, a bare number, a list item that is not an object) becomes ``{"_raw": text}``
    for the checks to dead-letter; nothing here raises. A record without ``station`` or
    ``station_id`` takes the station from the topic (see ``station_from_topic``)."""
    text = payload.decode("utf-8", errors="replace")
    try:
        document = json.loads(text)
    except ValueError:
        return [{"_raw": text}]
    except RecursionError:  # JSON nested deeper than Python recurses: no reading is that
        return [{"_raw": text[:MAX_PAYLOAD_CHARS], "_reason": "payload is JSON nested too deep to be readings"}]
    items = document if isinstance(document, list) else [document]
    if len(items) > MAX_RECORDS_PER_MESSAGE:
        return [{"_raw": text[:MAX_PAYLOAD_CHARS], "_reason": f"{len(items):,} readings in one message; at most {MAX_RECORDS_PER_MESSAGE:,}: publish several"}]
    station = station_from_topic(topic_filter, topic)
    records: list[dict[str, Any]] = []
    for item in items:
        if not isinstance(item, dict):
            records.append({"_raw": text if item is document else json.dumps(item, ensure_ascii=False)})
        elif station is not None and item.get("station") is None and item.get("station_id") is None:
            records.append({**client_record(item), "station": station})
        else:
            records.append(client_record(item))
    return records


class _Session:
    """The callbacks of one run; ``failed`` is set when ``handle`` raised, so that the run
    reconnects and the broker delivers the unacknowledged messages again."""

    def __init__(self, topic: str, handle: Handle, on_status: Callable[[str], None] | None) -> None:
        self.topic = topic
        self.handle = handle
        self.on_status = on_status
        self.failed = threading.Event()
        self.handled = threading.Event()

    def tell(self, line: str) -> None:
        logger.info("MQTT ingest: %s", line)
        if self.on_status is not None:
            try:
                self.on_status(line)
            except Exception:  # a broken status display must not stop the ingest
                logger.exception("MQTT ingest: on_status failed")

    def on_connect(self, client: mqtt.Client, userdata: Any, flags: mqtt.ConnectFlags, reason: ReasonCode, properties: Properties | None) -> None:
        if reason.is_failure:
            self.tell(f"disconnected: the broker refused the connection ({reason})")
            return
        client.subscribe(self.topic, qos=QOS)

    def on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reasons: list[ReasonCode], properties: Properties | None) -> None:
        if any(reason.is_failure for reason in reasons):
            self.tell(f"disconnected: the broker refused the subscription to {self.topic} ({', '.join(map(str, reasons))})")
            self.failed.set()
        else:
            self.tell("connected")

    def on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        self.tell("disconnected: cannot reach the broker; retrying")

    def on_disconnect(self, client: mqtt.Client, userdata: Any, flags: mqtt.DisconnectFlags, reason: ReasonCode, properties: Properties | None) -> None:
        self.tell(f"disconnected: connection lost ({reason})" if reason.is_failure else "disconnected: closed by onemap")

    def on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if self.failed.is_set():
            return  # not acknowledged: delivered again after the reconnect
        try:
            source = f"mqtt {message.topic}"
            records = records_from_payload(message.payload, topic=message.topic, topic_filter=self.topic)
            self.handle(records, source)
        except Exception as error:  # the store is down or the handler broke: keep the message
            logger.exception("MQTT ingest: handling a message on %r failed", message.topic)
            self.tell(f"handling a message failed ({type(error).__name__}: {error}); reconnecting to receive it again")
            self.failed.set()
            return
        client.ack(message.mid, message.qos)
        self.handled.set()


def run_mqtt_ingest(broker_url: str, topic: str, handle: Handle, *, client_id: str = "onemap-ingest", stop: threading.Event | None = None, on_status: Callable[[str], None] | None = None, max_backoff_s: float = 30.0) -> None:
    """Receive gauge reports from ``broker_url`` (``mqtt://HOST:PORT``) on ``topic`` until ``stop``
    is set (without ``stop``: until the process ends).

    Each message's records (see ``records_from_payload``) go to ``handle(records, "mqtt <topic>")``;
    the message is acknowledged when ``handle`` returns. When ``handle`` raises, the message is
    kept: the client reconnects after a pause (1 s, doubling up to ``max_backoff_s``) and the
    broker delivers it again. Lost connections are retried by paho with the same backoff (whole
    seconds, at least 1 s). ``on_status`` gets ``"connected"`` (connected and subscribed),
    ``"disconnected: <why>"`` and ``"handling a message failed (…)"`` lines, which are logged as
    well. ``client_id`` names the persistent session on the broker: one ingest per id.
    """
    host, port = parse_broker_url(broker_url)
    check_topic_filter(topic)
    if not client_id:
        raise InputError("MQTT client id: a persistent session needs a fixed, non-empty client id")
    stop = stop if stop is not None else threading.Event()
    session = _Session(topic, handle, on_status)
    pause_s = 1.0
    while not stop.is_set():
        session.failed.clear()
        session.handled.clear()
        client = _client(client_id, session, max_backoff_s=max_backoff_s)
        client.connect_async(host, port, keepalive=KEEPALIVE_S)
        client.loop_start()
        try:
            while not (stop.wait(0.1) or session.failed.is_set()):
                pass
        finally:
            client.disconnect()
            client.loop_stop()
        if session.handled.is_set():
            pause_s = 1.0
        if not stop.is_set():
            stop.wait(pause_s)
            pause_s = min(pause_s * 2, max_backoff_s)


def _client(client_id: str, session: _Session, *, max_backoff_s: float) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False, protocol=MQTTProtocolVersion.MQTTv311, manual_ack=True)
    client.reconnect_delay_set(min_delay=1, max_delay=max(1, math.ceil(max_backoff_s)))
    client.on_connect = session.on_connect
    client.on_connect_fail = session.on_connect_fail
    client.on_subscribe = session.on_subscribe
    client.on_disconnect = session.on_disconnect
    client.on_message = session.on_message
    return client
