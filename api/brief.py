"""HTTP routes for the brief (简报): the A4 PDF of an incident or a stored scenario, and the XLSX
of its tables. Made on the background job thread (``api/jobs.py``), not in the request: a brief
that takes longer than the short wait answers 202 — ask again after Retry-After."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Path, Request, Response

from layers.services.brief_facts import BriefFacts, incident_facts, scenario_facts
from web.brief.compose import compose_brief
from web.brief.pdf import render_brief_pdf
from web.brief.workbook import render_brief_xlsx

from .auth import ViewerDep
from .jobs import ACCEPTED
from .schemas import binary

router = APIRouter(tags=["Brief (简报)"])

BRIEF_WAIT_S = 8.0
"""How long (s) a request waits for its brief before answering 202."""
Format = Literal["pdf", "xlsx"]
MEDIA = {"pdf": "application/pdf", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
Id = Annotated[str, Path(max_length=100)]
FILE_RESPONSES = {**binary(MEDIA["pdf"], MEDIA["xlsx"], description="The brief (PDF) or its tables (XLSX)."), **ACCEPTED}


def _brief(request: Request, what: str, ident: str, fmt: str, author: str) -> Response:
    store, settings = request.app.state.store, request.app.state.settings

    def compute(progress: object) -> bytes:
        facts: BriefFacts = incident_facts(store, settings, ident, author=author) if what == "incident" else scenario_facts(store, settings, ident, author=author)
        basemap = request.app.state.basemap  # the wall map's tiles, drawn once and kept (api/wallmap.py)
        document = compose_brief(facts, basemap.current(store), lambda z, x, y: basemap.tile(store, z, x, y))
        return render_brief_pdf(document) if fmt == "pdf" else render_brief_xlsx(document)

    body = request.app.state.jobs.result(("brief", what, ident, fmt, author), f"简报 brief ({what} {ident})", compute, wait_s=BRIEF_WAIT_S, once=True)
    return Response(body, media_type=MEDIA[fmt], headers={"Content-Disposition": _attachment(f"brief-{ident}.{fmt}"), "Cache-Control": "no-store"})


def _attachment(filename: str) -> str:
    """Content-Disposition for ``filename`` (RFC 6266): an ASCII fallback and the name itself as
    UTF-8 (RFC 8187). An id is any text a ledger held: 事件-01 could not be sent as a header at
    all (a 500), and a quote ended the filename early."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\;%' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


@router.get("/incidents/{incident_id}/brief.{fmt}", response_class=Response, responses=FILE_RESPONSES, summary="An incident's brief: A4 PDF in Chinese, or the XLSX of its tables")
def incident_brief(incident_id: Id, fmt: Format, request: Request, principal: ViewerDep) -> Response:
    """Title, time and author; a map drawn by onemap (footprint of the incident's newest
    scenario, the incident, routes, shelters, closures; legend, scale bar, north arrow, 审图号
    line); impact per township; needs against stock with shortfalls; nearest resources with
    ETAs; closures in force."""
    return _brief(request, "incident", incident_id, fmt, principal.username)


@router.get("/scenarios/{scenario_id}/brief.{fmt}", response_class=Response, responses=FILE_RESPONSES, summary="A stored scenario's brief: A4 PDF in Chinese, or the XLSX of its tables")
def scenario_brief(scenario_id: Id, fmt: Format, request: Request, principal: ViewerDep) -> Response:
    return _brief(request, "scenario", scenario_id, fmt, principal.username)
