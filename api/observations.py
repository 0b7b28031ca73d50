"""``POST /observations``: gauge readings in, from monitoring platforms (a ``sensor`` account's
token, or an editor). Each reading is checked; the good ones are stored by (station, time), the
bad ones kept as dead letters with their reasons, and the warning rules run soon after, in the
background."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from pydantic import BaseModel, Field

from layers.errors import InputError, UnsupportedMediaTypeError
from layers.io.observations import client_record
from layers.services.ingest import LIVE_MAX_AGE_DAYS, IngestService

from .auth import require_observation_writer
from .dependencies import from_state
from .schemas import documented

router = APIRouter(tags=["Early warning (alerts, CAP, Atom)"])
get_ingest = from_state("ingest", IngestService)
IngestDep = Annotated[IngestService, Depends(get_ingest)]
MAX_OBSERVATIONS = 10_000
"""Most readings one request may carry; a platform with more sends several batches."""


class IngestOut(BaseModel):
    """What happened to a batch: stored, and kept as dead letters (with the first 20 reasons)."""

    accepted: int = Field(description="Readings stored (a repeat of a station and time replaces the earlier value).")
    rejected: int = Field(description="Readings kept as dead letters: unknown station, not a number, a time far in the future, a unit mismatch …")
    reasons: list[str]


READINGS = Body(description="A JSON list of readings, or {\"observations\": [...]}: each {\"station\": \"ST001\", \"time\": \"2026-07-20T08:00:00+08:00\", "
                            "\"value\": 34.62, \"unit\": \"m\"} (unit optional: the station's; time without an offset: Beijing time; quality optional).")


def _json_body(request: Request) -> None:
    """A body that is not JSON is refused with what to send, before anything reads it."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json" and not kind.endswith("+json"):
        raise UnsupportedMediaTypeError(f"send the readings as JSON with Content-Type: application/json (got {kind or 'no Content-Type'})")


@router.post("/observations", summary="Gauge readings in (sensor accounts and editors)", dependencies=[Depends(_json_body)], **documented(IngestOut, "What was stored and what became dead letters"))
def observations(ingest: IngestDep, body: Annotated[Any, READINGS], principal: Annotated[Any, Depends(require_observation_writer)]) -> dict[str, Any]:
    # The body is taken as any JSON and checked here, not by a typed model: a model would build
    # one validation error per bad item — megabytes of errors for a small list of numbers.
    records = body if isinstance(body, list) else body.get("observations") if isinstance(body, dict) else None
    if not isinstance(records, list):
        raise InputError("send a JSON list of readings, or {\"observations\": [...]}")
    if len(records) > MAX_OBSERVATIONS:
        raise InputError(f"{len(records):,} readings in one request; at most {MAX_OBSERVATIONS:,}: send several batches")
    readings = [client_record(item) if isinstance(item, dict) else item for item in records]
    done = ingest.ingest(readings, source=f"http {principal.username}", max_age_days=LIVE_MAX_AGE_DAYS)
    return {"accepted": done.accepted, "rejected": done.rejected, "reasons": done.reasons}
