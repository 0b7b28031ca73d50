"""The analyses behind the risk and coverage routes, computed in the background (``layers.services.jobs``).

A route asks here for its result: ready (cached for today's data) → returned at once; not yet →
the job is started or found, and the route answers 202 with the job's step and ``Retry-After``
(the error handler in ``api/errors.py``); the client asks again. The wall map does that by itself.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from gis.coverage.analysis import CoverageResult
from gis.risk.zoning import RiskResult
from layers.services.coverage import CoverageService
from layers.services.jobs import RETRY_AFTER_S, Jobs
from layers.services.risk import RiskService

from .schemas import JobAccepted, Responses

ACCEPTED: Responses = {
    202: {
        "model": JobAccepted,
        "description": f"Being computed in the background: the body gives the step; ask again after Retry-After ({RETRY_AFTER_S} s).",
        # application/json named outright: a route that answers GeoJSON or PNG still answers 202 as JSON.
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/JobAccepted"}}},
        "headers": {
            "Retry-After": {"description": "Seconds to wait before asking again.", "schema": {"type": "integer", "minimum": 0}},
            "Cache-Control": {"description": "no-store: the answer changes as the job runs.", "schema": {"type": "string"}},
        },
    }
}
"""The extra response of every route whose analysis may still be computing (for the OpenAPI); the
body and headers are those of the ``Computing`` handler in ``api/errors.py``."""


def _jobs(request: Request) -> Jobs:
    jobs: Jobs = request.app.state.jobs
    return jobs


def risk_result(request: Request) -> RiskResult:
    """The risk zoning for today's data, or ``Computing``."""
    service: RiskService = request.app.state.risk
    ready = service.cached()
    if ready is not None:
        return ready
    return _jobs(request).result(("risk", service.key()), "风险区划 risk zoning", lambda progress: service.current(progress=progress))


def coverage_result(request: Request, analysis_type: str, mode: str) -> CoverageResult:
    """The shelter coverage for today's data, or ``Computing``."""
    service: CoverageService = request.app.state.coverage
    ready = service.cached(analysis_type, mode)
    if ready is not None:
        return ready
    return _jobs(request).result(("coverage", service.key(analysis_type, mode)), f"避难场所覆盖 shelter coverage ({analysis_type}, {mode})",
                                 lambda progress: service.result(analysis_type, mode, progress=progress))


def in_background(request: Request, what: str, label: str, parameters: dict[str, Any], compute: Any) -> Any:
    """Any other analysis (siting): keyed by ``what``, its parameters and the coverage inputs."""
    service: CoverageService = request.app.state.coverage
    key = (what, json.dumps(parameters, sort_keys=True, ensure_ascii=False, default=str), service.key(str(parameters.get("type", "紧急")), str(parameters.get("mode", "network"))))
    return _jobs(request).result(key, label, compute)
