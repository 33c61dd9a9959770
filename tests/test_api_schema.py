"""Property tests from kiosk-server's own OpenAPI schema: whatever schemathesis makes
of each operation, the server answers without a 5xx (issue 29)."""

from __future__ import annotations

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings

from api.services import ApiServices
from tests.api_fixtures import admin

# Bounded so that every operation together runs in well under two minutes here.
EXAMPLES_PER_OPERATION = 12


@pytest.mark.slow
def test_no_operation_answers_5xx(api_app: FastAPI, api_services: ApiServices) -> None:
    # An admin's token: every operation runs as far as its checks let it.
    token = api_services.tokens.issue(admin(api_services)).token
    auth = {"Authorization": f"Bearer {token}"}
    schema = schemathesis.openapi.from_asgi("/openapi.json", api_app)
    checked = []
    for found in schema.get_all_operations():
        operation = found.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def answers_without_5xx(case: schemathesis.Case) -> None:
            response = case.call(headers=auth)
            assert response.status_code < 500, (case.method, case.path, response.text[:300])
            assert response.headers.get("x-request-id")

        answers_without_5xx()
        checked.append(f"{operation.method.upper()} {operation.path}")
    assert {"POST /people", "POST /identify", "GET /doors"} <= set(checked), checked
