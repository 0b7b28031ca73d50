"""``POST /observations``: gauge readings in, from monitoring platforms (a ``sensor`` account's
token, or an editor). Each reading is checked; the good ones are stored by (station, time), the
bad ones kept as dead letters with their reasons, and the warning rules run soon after, in the
background."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends
from pydantic import BaseModel, Field

from layers.errors import InputError
from layers.services.ingest import IngestService

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


@router.post("/observations", summary="Gauge readings in (sensor accounts and editors)", **documented(IngestOut, "What was stored and what became dead letters"))
def observations(ingest: IngestDep, body: Annotated[list[dict[str, Any]] | dict[str, list[dict[str, Any]]], READINGS], principal: Annotated[Any, Depends(require_observation_writer)]) -> dict[str, Any]:
    records = body if isinstance(body, list) else body.get("observations")
    if records is None:
        raise InputError("send a JSON list of readings, or {\"observations\": [...]}")
    if len(records) > MAX_OBSERVATIONS:
        raise InputError(f"{len(records):,} readings in one request; at most {MAX_OBSERVATIONS:,}: send several batches")
    done = ingest.ingest(records, source=f"http {principal.username}")
    return {"accepted": done.accepted, "rejected": done.rejected, "reasons": done.reasons}
