"""Property-based requests against the OpenAPI schema (schemathesis, Hypothesis): every operation,
with valid (positive) and schema-violating (negative) inputs, as an admin (so writes run too) on a copy of the sample city.
Zero 5xx, and every answer's status, content type and body as the OpenAPI declares them, across at
least 700 generated requests in the test command. ``ONEMAP_FUZZ_EXAMPLES=330`` (examples per
operation and mode; default 24) makes it the full run of more than 10,000 requests."""

from __future__ import annotations

import itertools
import os
from collections import Counter
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode, checks

from api.main import create_app
from tests.helpers import secured_copy

EXAMPLES_PER_OPERATION = int(os.environ.get("ONEMAP_FUZZ_EXAMPLES", "24"))  # 47 operations: over 700 requests
CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance, checks.response_schema_conformance]
"""What each answer must satisfy: no 5xx; a status, a content type and a body the OpenAPI declares."""
SLOW_OPERATIONS = {"POST /coverage/site": EXAMPLES_PER_OPERATION // 4, "POST /shares": EXAMPLES_PER_OPERATION * 5 // 12, "GET /routing/areas": EXAMPLES_PER_OPERATION * 5 // 12}
"""Operations that compute a lot per call (a MILP, routes and service areas) get fewer examples."""


@pytest.mark.slow
def test_no_generated_request_gets_a_server_error(sample_gpkg: Path, tmp_path: Path) -> None:
    config, accounts, tokens = secured_copy(sample_gpkg, tmp_path, {"fuzz": "admin"})
    accounts.close()
    headers = {"Authorization": f"Bearer {tokens['fuzz']}"}
    app = create_app(config)
    statuses: Counter[int] = Counter()
    server_errors: list[str] = []
    with TestClient(app):
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        # The event streams are endless: tests/api/test_alerts.py and tests/web/test_share_page.py read them from a real server.
        operations = [op for op in (result.ok() for result in schema.get_all_operations()) if op.label not in ("GET /events", "GET /s/{token}/events")]
        assert len(operations) >= 30
        for operation, mode in itertools.product(operations, GenerationMode):
            examples = SLOW_OPERATIONS.get(operation.label, EXAMPLES_PER_OPERATION) // 2

            @given(case=operation.as_strategy(mode))
            @settings(max_examples=examples, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
            def call(case: schemathesis.Case) -> None:
                response = case.call(headers=headers)
                statuses[response.status_code] += 1
                try:
                    case.validate_response(response, checks=CHECKS)
                except BaseException as failure:  # a FailureGroup of every check that failed
                    for problem in getattr(failure, "exceptions", [failure]):
                        server_errors.append(f"{case.operation.label} {case.path_parameters} {case.query} {case.body!r:.200}: {response.status_code} {str(problem).splitlines()[0]} {response.text[:200]}")

            try:
                call()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE, operation.label  # an operation with nothing to get wrong
    total = sum(statuses.values())
    print(f"schemathesis: {total} requests over {len(operations)} operations, statuses {dict(sorted(statuses.items()))}")
    assert server_errors == [], server_errors[:10]
    assert total >= 700 * EXAMPLES_PER_OPERATION // 24, f"only {total} requests were generated: {dict(statuses)}"
