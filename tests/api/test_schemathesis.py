"""Property-based requests against the OpenAPI schema (schemathesis, Hypothesis): every operation,
with valid (positive) and schema-violating (negative) inputs, as an admin (so writes run too) on a copy of the sample city.
Zero 5xx across at least 1,000 generated requests; bounded so the test command stays quick."""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from api.main import create_app
from tests.helpers import secured_copy

EXAMPLES_PER_OPERATION = 60
SLOW_OPERATIONS = {"POST /coverage/site": 15, "POST /shares": 25, "GET /routing/areas": 25}
"""Operations that compute a lot per call (a MILP, routes and service areas) get fewer examples."""


def test_no_generated_request_gets_a_server_error(sample_gpkg: Path, tmp_path: Path) -> None:
    config, accounts, tokens = secured_copy(sample_gpkg, tmp_path, {"fuzz": "admin"})
    accounts.close()
    headers = {"Authorization": f"Bearer {tokens['fuzz']}"}
    app = create_app(config)
    statuses: Counter[int] = Counter()
    server_errors: list[str] = []
    with TestClient(app):
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 30
        for operation, mode in itertools.product(operations, GenerationMode):
            examples = SLOW_OPERATIONS.get(operation.label, EXAMPLES_PER_OPERATION) // 2

            @given(case=operation.as_strategy(mode))
            @settings(max_examples=examples, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
            def call(case: schemathesis.Case) -> None:
                response = case.call(headers=headers)
                statuses[response.status_code] += 1
                if response.status_code >= 500:
                    server_errors.append(f"{case.operation.label} {case.path_parameters} {case.query} {case.body!r:.200}: {response.status_code} {response.text[:200]}")

            try:
                call()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE, operation.label  # an operation with nothing to get wrong
    total = sum(statuses.values())
    print(f"schemathesis: {total} requests over {len(operations)} operations, statuses {dict(sorted(statuses.items()))}")
    assert server_errors == [], server_errors[:10]
    assert total >= 1000, f"only {total} requests were generated: {dict(statuses)}"
