"""The ingest checks every path shares (layers/io/observations.py, and the file reader in layers/io/observation_files.py): good records become
observations with UTC times, every kind of bad record a dead letter that names the field, and
the CSV/XLSX exports of monitoring platforms read back with their Chinese headers."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from layers.errors import InputError
from layers.io.observation_files import read_observation_file
from layers.io.observations import (
    MAX_PAYLOAD_CHARS,
    MAX_REASON_CHARS,
    Observation,
    StationInfo,
    check_observations,
    client_record,
)

STATIONS = {
    "ST001": StationInfo("ST001", "水位", "m"),
    "ST002": StationInfo("ST002", "雨量", "mm"),
    "41800100": StationInfo("41800100", "水位", "m"),
}
NOW = datetime(2024, 7, 1, 12, 0, tzinfo=UTC)
MIDNIGHT_UTC = datetime(2024, 7, 1, 0, 0, tzinfo=UTC)
EPOCH_MIDNIGHT = int(MIDNIGHT_UTC.timestamp())


def check(*records: Any, source: str = "http") -> tuple[list[Observation], list[Any]]:
    return check_observations(records, STATIONS, source=source, now=NOW)


@pytest.mark.parametrize(
    "time",
    [
        "2024-07-01T08:00:00+08:00",
        "2024-07-01T00:00:00Z",
        "2024-07-01T00:00:00+00:00",
        "2024-07-01 08:00:00",  # naive: Beijing time
        "2024-07-01T08:00",
        "2024/7/1 8:00",
        "２０２４-０７-０１ ０８:００",
        datetime(2024, 7, 1, 8, 0),
        datetime(2024, 7, 1, 0, 0, tzinfo=UTC),
        EPOCH_MIDNIGHT,
        float(EPOCH_MIDNIGHT),
        str(EPOCH_MIDNIGHT),
    ],
)
def test_times_in_every_form_become_utc(time: Any) -> None:
    kept, dead = check({"station": "ST001", "time": time, "value": 35.2})
    assert dead == []
    assert kept[0].time == MIDNIGHT_UTC
    assert kept[0].time.utcoffset() == timedelta(0)


def test_good_records_become_observations() -> None:
    kept, dead = check(
        {"station": "ST001", "time": "2024-07-01 08:00", "value": "101.2", "unit": "米", "quality": "G"},
        {"station_id": "ST002", "time": "2024-07-01 08:05", "value": 0, "unit": "毫米"},
        {"station": 41800100, "time": "2024-07-01 08:10", "value": 35},
        {"station": 41800100.0, "time": "2024-07-01 08:15", "value": " 35.5 ", "unit": ""},
        {"station": "ST001", "station_id": "ST001", "time": "2024-07-01 08:20", "value": 101.3, "unit": "M"},
    )
    assert dead == []
    assert kept == [
        Observation("ST001", MIDNIGHT_UTC, 101.2, "m", "G"),
        Observation("ST002", MIDNIGHT_UTC + timedelta(minutes=5), 0.0, "mm", None),
        Observation("41800100", MIDNIGHT_UTC + timedelta(minutes=10), 35.0, "m", None),
        Observation("41800100", MIDNIGHT_UTC + timedelta(minutes=15), 35.5, "m", None),
        Observation("ST001", MIDNIGHT_UTC + timedelta(minutes=20), 101.3, "m", None),
    ]


GOOD = {"station": "ST001", "time": "2024-07-01T08:00:00+08:00", "value": 35.2}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"station": "ST999"}, r"^unknown station ST999$"),
        ({"station": None}, r"^station is missing"),
        ({"station": True}, r"^station True is not a station code$"),
        ({"station_id": "ST002"}, r"^station ST001 and station_id ST002 differ$"),
        ({"value": "high"}, r"^value 'high' is not a number$"),
        ({"value": math.nan}, r"^value nan is not a finite number$"),
        ({"value": math.inf}, r"^value inf is not a finite number$"),
        ({"value": "-inf"}, r"^value '-inf' is not a finite number$"),
        ({"value": True}, r"^value True is a boolean, not a number$"),
        ({"value": None}, r"^value is missing$"),
        ({"value": ""}, r"^value is missing$"),
        ({"value": [1.0]}, r"^value \[1.0\] is not a number$"),
        ({"time": None}, r"^time is missing$"),
        ({"time": "yesterday"}, r"^time 'yesterday' is not an ISO 8601 time$"),
        ({"time": "now"}, r"^time 'now' is not an ISO 8601 time$"),
        ({"time": "2024-13-01T00:00"}, r"^time '2024-13-01T00:00' is not an ISO 8601 time$"),
        ({"time": True}, r"^time True is not a time$"),
        ({"time": "1989-12-31T23:00:00Z"}, r"^time 1989-12-31T23:00:00\+00:00 is before 1990$"),
        ({"time": 0}, r"^time 1970-01-01T00:00:00\+00:00 is before 1990$"),
        ({"time": EPOCH_MIDNIGHT * 1000}, r"is not epoch seconds \(milliseconds"),
        ({"time": "2027-01-01T00:00:00Z"}, r"^time 2027-01-01T00:00:00\+00:00 is 600 s or more in the future$"),
        ({"time": NOW + timedelta(seconds=600)}, r"^time 2024-07-01T12:10:00\+00:00 is 600 s or more in the future$"),
        ({"unit": "cm"}, r"^unit cm does not match station ST001's unit m \(a length on another scale is not converted"),
        ({"unit": "mm"}, r"^unit mm does not match station ST001's unit m \("),
        ({"unit": "kg"}, r"^unit kg does not match station ST001's unit m$"),
        ({"station": "ST002", "unit": "m"}, r"^unit m does not match station ST002's unit mm \("),
        ({"value": "180,5"}, r"^value '180,5' has a comma: write the decimal point as '\.'"),  # not 1805
        ({"value": "1,805.0"}, r"has a comma"),
        ({"value": "2_5_0"}, r"^value '2_5_0' is not a number$"),  # Python's float() would say 250
        ({"value": 1e308}, r"^value 1e\+308 m is not a water level a gauge can give \(from -500 to 9000 m\)"),
        ({"value": -1000}, r"is not a water level a gauge can give"),
        ({"station": "ST002", "value": -110}, r"^value -110 mm is not rain since the previous report a gauge can give \(from 0 to 2000 mm\)"),
        ({"station": "ST002", "value": "1e9"}, r"is not rain since the previous report"),
        ({"quality": "a\u0000b"}, r"^quality must be text of at most 64 characters without control characters or lone surrogates$"),
        ({"quality": "x" * 65}, r"^quality must be text of at most 64"),
        ({"quality": {"a": [1, 2]}}, r"^quality is a dict: give a short text code$"),
    ],
)
def test_each_bad_field_becomes_a_dead_letter_that_names_it(change: dict[str, Any], reason: str) -> None:
    record = {**GOOD, **change}
    kept, dead = check(record, GOOD, source="mqtt onemap/ST001/obs")
    assert kept == [Observation("ST001", MIDNIGHT_UTC, 35.2, "m", None)]  # the good one still passes
    assert len(dead) == 1
    letter = dead[0]
    assert re.search(reason, letter.reason), letter.reason
    assert letter.source == "mqtt onemap/ST001/obs"
    assert letter.received_at == NOW
    assert letter.payload == json.dumps(record, ensure_ascii=False, default=str)  # the record as received


def test_a_live_feed_refuses_old_readings_and_a_file_does_not() -> None:
    old = {**GOOD, "time": "2024-05-01T00:00:00Z"}
    kept, dead = check_observations([old], STATIONS, source="http", now=NOW, max_age_days=31)
    assert kept == [] and re.search(r"is more than 31 days old: a live feed sends what it measures now", dead[0].reason)
    assert len(check(old)[0]) == 1, "a file may hold old records"


def test_reasons_are_short_whatever_the_value_and_clients_cannot_forge_onemaps_own_keys() -> None:
    _, dead = check({**GOOD, "value": "A" * 1_000_000, "station": "S" * 100_000})
    assert len(dead[0].reason) <= MAX_REASON_CHARS and len(dead[0].payload) <= MAX_PAYLOAD_CHARS
    forged = client_record({**GOOD, "_row": "<b>evil</b>\n\u0000", "_raw": "x", "_reason": "all fine"})
    assert forged == GOOD


def test_just_inside_the_future_limit_is_kept() -> None:
    kept, dead = check({**GOOD, "time": NOW + timedelta(seconds=599)})
    assert dead == [] and kept[0].time == NOW + timedelta(seconds=599)


def test_records_that_are_not_objects_are_dead_letters() -> None:
    kept, dead = check({"_raw": "<html>not json</html>"}, 42, None, ["ST001"])
    assert kept == []
    assert [d.reason for d in dead] == [
        "payload is not a JSON object or a list of objects",
        "record is a int, not an object with station, time and value",
        "record is a NoneType, not an object with station, time and value",
        "record is a list, not an object with station, time and value",
    ]
    assert dead[0].payload == "<html>not json</html>"


def test_dead_letters_name_the_file_row_and_keep_at_most_2000_characters() -> None:
    long_value = "x" * 5000
    kept, dead = check({**GOOD, "value": long_value, "_row": 12}, source="file 水位.csv")
    assert kept == []
    assert dead[0].source == "file 水位.csv row 12"
    assert len(dead[0].payload) == MAX_PAYLOAD_CHARS
    assert "_row" not in dead[0].payload


def test_naive_now_is_refused() -> None:
    with pytest.raises(InputError, match="now must be timezone-aware"):
        check_observations([GOOD], STATIONS, source="http", now=datetime(2024, 7, 1, 12))


# --- files -------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["gb18030", "utf-8-sig", "utf-8"])
def test_csv_exports_read_back_in_their_encodings(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "水位.csv"
    text = (
        "测站编码,站名,观测时间,水位（m）\n"
        "ST001,微山湖二级坝,2024-07-01 08:00,35.20\n"
        "\n"
        "ST001,微山湖二级坝,2024/7/1 8:05,高\n"
        "ST009,南阳,2024-07-01 08:10,34.1\n"
    )
    path.write_bytes(text.encode(encoding))
    records = read_observation_file(path)
    assert [r["_row"] for r in records] == [2, 4, 5]  # the blank line is counted, not returned
    assert records[0] == {"station": "ST001", "time": "2024-07-01 08:00", "value": "35.20", "unit": "m", "_row": 2}
    kept, dead = check_observations(records, STATIONS, source=f"file {path.name}", now=NOW)
    assert kept == [Observation("ST001", MIDNIGHT_UTC, 35.2, "m", None)]
    assert [(d.source, d.reason) for d in dead] == [
        ("file 水位.csv row 4", "value '高' is not a number"),
        ("file 水位.csv row 5", "unknown station ST009"),
    ]


def test_a_unit_column_and_rain_headers(tmp_path: Path) -> None:
    path = tmp_path / "rain.csv"
    path.write_text("站码,时间,时段雨量,单位,质量\nST002,2024-07-01T08:00:00+08:00,12.5,毫米,1\nST002,2024-07-01T09:00:00+08:00,3,cm,\n", encoding="utf-8")
    kept, dead = check_observations(read_observation_file(path), STATIONS, source="file rain.csv", now=NOW)
    assert kept == [Observation("ST002", MIDNIGHT_UTC, 12.5, "mm", "1")]
    assert dead[0].reason.startswith("unit cm does not match station ST002's unit mm")


def test_a_header_unit_on_another_scale_is_refused_row_by_row(tmp_path: Path) -> None:
    path = tmp_path / "cm.csv"
    path.write_text("站号,监测时间,水位(cm)\nST001,2024-07-01 08:00,3520\n", encoding="utf-8")
    kept, dead = check_observations(read_observation_file(path), STATIONS, source="file cm.csv", now=NOW)
    assert kept == [] and dead[0].reason.startswith("unit cm does not match station ST001's unit m")


def test_xlsx_exports_read_back(tmp_path: Path) -> None:
    path = tmp_path / "雨量.xlsx"
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["站号", "站名", "监测时间", "雨量(mm)"])
    sheet.append([41800100, "二级坝", datetime(2024, 7, 1, 8, 0), 35.5])
    sheet.append(["ST002", "南阳", datetime(2024, 7, 1, 8, 0), 1.5])
    sheet.append([None, None, None, None])
    sheet.append(["ST002", "南阳", "2024-07-01 09:00", "两毫米"])
    book.save(path)
    records = read_observation_file(path)
    assert [r["_row"] for r in records] == [2, 3, 5]
    stations = {**STATIONS, "41800100": StationInfo("41800100", "雨量", "mm")}
    kept, dead = check_observations(records, stations, source=f"file {path.name}", now=NOW)
    assert kept == [Observation("41800100", MIDNIGHT_UTC, 35.5, "mm", None), Observation("ST002", MIDNIGHT_UTC, 1.5, "mm", None)]
    assert [(d.source, d.reason) for d in dead] == [("file 雨量.xlsx row 5", "value '两毫米' is not a number")]


def test_a_file_without_its_time_column_names_the_columns(tmp_path: Path) -> None:
    path = tmp_path / "no-time.csv"
    path.write_text("站码,站名,水位\nST001,二级坝,35.2\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"no-time\.csv: no column for time\. Columns found: 站码, 站名, 水位\. Expected: time: 时间/观测时间/监测时间/time"):
        read_observation_file(path)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("obs.json", b"{}", r"obs\.json: observations are read from \.csv or \.xlsx files"),
        ("two.csv", "站码,时间,水位,雨量\n".encode(), r"two\.csv: columns 水位 and 雨量 both give the value"),
        ("empty.csv", b"", r"empty\.csv: not a readable CSV table"),
        ("binary.csv", bytes(range(128, 256)) * 4, r"binary\.csv: not UTF-8 or GB18030 text"),
        ("bad.xlsx", b"not a zip", r"bad\.xlsx: not a readable XLSX workbook"),
    ],
)
def test_unreadable_files_are_input_errors(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        read_observation_file(path)


def test_a_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        read_observation_file(tmp_path / "nope.csv")
