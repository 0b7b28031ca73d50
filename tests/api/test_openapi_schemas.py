"""The OpenAPI document states every answer: each success response (2xx) of each operation has a
concrete schema — never ``{}``, never an object without properties (a map is fine when its values
are models) — and each 202 its JSON body and ``Retry-After``. And the bodies the routes build
validate against the models they declare, with every member declared (schemathesis checks the
bodies too; these tests fail readably)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel

from api.errors import ErrorBody
from api.schemas import (
    AuditLog,
    Collection,
    Collections,
    Conformance,
    CoverageSummary,
    CreatedShare,
    JobAccepted,
    LandingPage,
    Live,
    Me,
    Places,
    RiskAt,
    RiskSummary,
    SearchResults,
    ShareRoute,
    Shares,
    ShareSnapshot,
    ShareSummary,
    Situation,
    Users,
)
from layers.settings import Settings
from tests.helpers import when_ready

Schema = dict[str, Any]
MAY_COMPUTE = {"GET /coverage/summary", "GET /coverage/gaps", "POST /coverage/site", "GET /risk/summary", "GET /risk/at", "GET /risk/tiles/{z}/{x}/{y}.png"}
"""Operations whose analysis runs in the background: they may answer 202."""


@pytest.fixture
def sample_settings(sample_settings: Settings) -> Settings:
    """The sample city zoned at 500 m: these tests check the shape of the answers, not the cell size."""
    return sample_settings.model_copy(update={"risk_resolution_m": 500.0})


def _responses(document: Schema) -> Iterator[tuple[str, str, Schema]]:
    """(operation, status, response) of every operation in the OpenAPI ``document``."""
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                yield f"{method.upper()} {path}", status, response


def _resolved(schema: Schema, document: Schema) -> Schema:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _vague(schema: Schema, document: Schema) -> bool:
    """Whether ``schema`` says nothing of the body's members: ``{}``, or an object without
    properties whose values are not a concrete schema either."""
    schema = _resolved(schema, document)
    if not schema:
        return True
    if schema.get("type") == "object" and not schema.get("properties"):
        values = schema.get("additionalProperties")
        return not isinstance(values, dict) or _vague(values, document)
    return False


def test_every_success_answer_has_a_concrete_schema(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    vague = []
    for operation, status, response in _responses(document):
        if not status.startswith("2"):
            continue
        if not response.get("content"):
            vague.append(f"{operation} {status}: no content")
        for media_type, body in response.get("content", {}).items():
            if _vague(body.get("schema", {}), document):
                vague.append(f"{operation} {status} {media_type}: {body.get('schema')}")
    assert vague == []


def test_every_202_gives_its_body_and_when_to_ask_again(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    accepted = {operation: response for operation, status, response in _responses(document) if status == "202"}
    assert set(accepted) >= MAY_COMPUTE
    no_body = [operation for operation, response in accepted.items() if response.get("content", {}).get("application/json", {}).get("schema") != {"$ref": "#/components/schemas/JobAccepted"}]
    no_retry_after = [operation for operation, response in accepted.items() if response.get("headers", {}).get("Retry-After", {}).get("schema", {}).get("type") != "integer"]
    assert (no_body, no_retry_after) == ([], [])


def _paths(value: Any, prefix: str = "") -> Iterator[str]:
    """The path of every object member in a JSON value (list items as ``[]``)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield f"{prefix}/{key}"
            yield from _paths(item, f"{prefix}/{key}")
    elif isinstance(value, list):
        for item in value:
            yield from _paths(item, f"{prefix}/[]")


def _check(model: type[BaseModel], body: Any) -> None:
    """``body`` validates against ``model``, and each of its members is one the model declares
    (or sits in an open map of the model): the schema states the whole body."""
    declared = model.model_validate(body).model_dump(mode="json", by_alias=True)
    undeclared = set(_paths(body)) - set(_paths(declared))
    assert not undeclared, f"{model.__name__} does not declare {sorted(undeclared)[:5]}"


def test_plain_answers_validate_against_their_models(client: TestClient) -> None:
    for path, model in (("/auth/me", Me), ("/users", Users), ("/audit", AuditLog), ("/", LandingPage), ("/conformance", Conformance),
                        ("/collections", Collections), ("/collections/shelters", Collection), ("/map/live", Live),
                        ("/map/search?q=尼山", SearchResults), ("/map/search?q=116.59,35.41", SearchResults), ("/map/places?level=乡镇街道", Places),
                        ("/map/situation?lon=116.59&lat=35.41", Situation)):
        response = client.get(path)
        assert response.status_code == 200, (path, response.text)
        _check(model, response.json())


def test_analyses_validate_first_as_a_job_then_as_their_result(client: TestClient) -> None:
    for path, model in (("/coverage/summary", CoverageSummary), ("/risk/summary", RiskSummary), ("/risk/at?lon=116.59&lat=35.41", RiskAt)):
        first = client.get(path)
        if first.status_code == 202:
            _check(JobAccepted, first.json())
            assert int(first.headers["Retry-After"]) == first.json()["retry_after_s"]
        done = when_ready(lambda path=path: client.get(path))
        assert done.status_code == 200, (path, done.text)
        _check(model, done.json())


def test_share_link_answers_validate_against_their_models(client: TestClient) -> None:
    made = client.post("/shares", json={"lon": 116.59, "lat": 35.41})
    assert made.status_code == 201, made.text
    _check(CreatedShare, made.json())
    token, share_id = made.json()["token"], made.json()["id"]
    _check(Shares, client.get("/shares").json())
    snapshot = client.get(f"/s/{token}/data")
    _check(ShareSnapshot, snapshot.json())
    point = snapshot.json()["point"]
    _check(ShareRoute, client.get(f"/s/{token}/route", params={"lon": point["lon"] + 0.01, "lat": point["lat"]}).json())
    _check(ShareSummary, client.post(f"/shares/{share_id}/revoke").json())
    gone = client.get(f"/s/{token}/data")
    assert gone.status_code == 410 and "410" in client.get("/openapi.json").json()["paths"]["/s/{token}/data"]["get"]["responses"]
    _check(ErrorBody, gone.json())
