"""POST /observations against what an outside tester sent it: a body in another format gets a
415 that says what to send; a huge list of non-objects a short 400, not megabytes of errors; a NUL
in a quality code, a repeated reading and forged internal keys cost one dead letter each, never a
500 or a lost batch."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from layers.store import open_store


def _water_gauge(client: TestClient) -> str:
    stations = client.get("/collections/monitoring_stations/items", params={"kind": "水位", "limit": 1}).json()["features"]
    return str(stations[0]["id"])


def test_a_body_that_is_not_json_gets_415_saying_what_to_send(client: TestClient) -> None:
    for headers, content in (({"Content-Type": "application/x-www-form-urlencoded"}, b"station=1&value=2"), ({"Content-Type": "text/plain"}, b"[]"), ({}, b"[]")):
        answer = client.post("/observations", content=content, headers=headers)
        assert answer.status_code == 415 and "Content-Type: application/json" in answer.json()["description"], answer.text


def test_a_huge_list_of_numbers_gets_a_short_answer(client: TestClient) -> None:
    started = time.perf_counter()
    refused = client.post("/observations", json=[0] * 200_000)
    assert refused.status_code == 400 and "200,000 readings in one request; at most 10,000" in refused.json()["description"]
    assert len(refused.content) < 1_000 and time.perf_counter() - started < 5
    kept = client.post("/observations", json=[0] * 10_000)
    assert kept.status_code == 200 and kept.json()["rejected"] == 10_000 and len(kept.content) < 10_000
    assert client.post("/observations", json="not a list").status_code == 400


def test_bad_fields_cost_one_dead_letter_each_never_the_batch(client: TestClient, sample_settings: Any) -> None:
    station = _water_gauge(client)
    now = datetime.now(UTC).replace(microsecond=0)
    readings = [
        {"station": station, "time": (now - timedelta(minutes=10)).isoformat(), "value": 30.5, "quality": "a\u0000b"},
        {"station": station, "time": (now - timedelta(minutes=5)).isoformat(), "value": 30.6},
        {"station": station, "time": (now - timedelta(minutes=5)).isoformat(), "value": 30.7},  # the same time again: the later value
        {"station": station, "time": (now - timedelta(minutes=1)).isoformat(), "value": "180,5"},
        {"station": station, "time": "1995-06-01T00:00:00Z", "value": 30.0},
        {"station": station, "time": now.isoformat(), "value": 30.8, "_row": "<b>forged</b>", "_raw": "x"},
    ]
    answer = client.post("/observations", json=readings)
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == 2 and answer.json()["rejected"] == 3, answer.json()
    reasons = " | ".join(answer.json()["reasons"])
    assert "quality must be text" in reasons and "has a comma" in reasons and "days old" in reasons
    assert "forged" not in reasons
    with open_store(sample_settings) as store:
        stored = store.read_observations([station], now - timedelta(hours=1), now + timedelta(seconds=1))
    assert sorted(stored["value"]) == [30.7, 30.8]


def test_a_lone_surrogate_costs_a_dead_letter_kept_visible_never_a_500(client: TestClient, sample_settings: Any) -> None:
    """"\\ud800" is valid JSON but not UTF-8: in a station code, a unit or a quality it was a 500
    (the dead letter could not be written) after the good readings of the batch were stored."""
    station = _water_gauge(client)
    now = datetime.now(UTC).replace(microsecond=0)
    good = f'{{"station": "{station}", "time": "{(now - timedelta(minutes=2)).isoformat()}", "value": 31.25}}'
    body = f'[{good}, {{"station": "\\ud800", "time": "{now.isoformat()}", "value": 1, "unit": "\\ud800"}},' \
           f' {{"station": "{station}", "time": "{now.isoformat()}", "value": 31.5, "quality": "\\udfff"}}]'
    answer = client.post("/observations", content=body.encode(), headers={"Content-Type": "application/json"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == 1 and answer.json()["rejected"] == 2, answer.json()
    with open_store(sample_settings) as store:
        letters = store.read_dead_letters(limit=2)
        stored = store.read_observations([station], now - timedelta(hours=1), now + timedelta(seconds=1))
    assert any("\\ud800" in payload for payload in letters["payload"]), "kept visible as its escape"
    assert list(stored["value"]) == [31.25]
