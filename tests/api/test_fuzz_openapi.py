"""Schemathesis over the app's own /openapi.json, once per key scope (issue #13): generated requests
to every route, on a throwaway data dir, get no server error and nothing the spec does not say
(status codes, content types, headers, response bodies).

The key is given explicitly (schemathesis would otherwise fill the X-API-Key and Authorization
header parameters with random values and only ever see 401s). Examples are bounded and the
generation is derandomised, so the run is the same every time and stays within a few minutes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings

from firstlast.api.app import create_app
from firstlast.config import Settings
from firstlast.retriever.embeddings import MiniLMEmbedder
from firstlast.types import Document
from firstlast.wiring import build
from tests.conftest import ADMIN_KEY, AGENT_KEY, VOICE, WIDGET_KEY

KEYS = {"widget": WIDGET_KEY, "agent": AGENT_KEY, "admin": ADMIN_KEY}
EXAMPLES = 25  # per operation and scope: about 3 x 25 x 12 requests


@pytest.fixture(scope="module")
def fuzzed_app(tmp_path_factory: pytest.TempPathFactory, minilm: MiniLMEmbedder) -> FastAPI:
    data: Path = tmp_path_factory.mktemp("fuzz") / "data"
    api = {
        "widget_keys": [WIDGET_KEY],
        "agent_keys": [AGENT_KEY],
        "admin_keys": [ADMIN_KEY],
        "rate_limit_client": "100000/minute",  # the limits have tests of their own
        "rate_limit_conversation": "100000/minute",
        "stream_seconds": 0.3,  # an event stream ends soon, so each generated call returns
        "stream_poll_seconds": 0.1,
    }
    services = build(Settings(data_dir=data, answer={"voice_profile": VOICE}, api=api), embedder=minilm)
    services.ingestor.ingest([Document("faq/billing", "Billing", "Invoices are sent monthly.", "fuzz")])
    return create_app(services)


@pytest.fixture(scope="module")
def api_schema(fuzzed_app: FastAPI) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", fuzzed_app)


CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_headers_conformance,
    schemathesis.checks.response_schema_conformance,
]
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def _fuzz(api_schema: Any, scope: str) -> None:
    """Every operation in turn, with hypothesis driving schemathesis' generated cases (its pytest
    plugin's lazy schemas do not run under pytest 9)."""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 20
    statuses: list[int] = []

    for operation in operations:

        @FUZZ
        @given(case=operation.as_strategy())
        def run(case: Any) -> None:
            headers = {
                k: v
                for k, v in (case.headers or {}).items()
                if k.lower() not in ("authorization", "x-api-key")
            }
            case.headers = {**headers, "X-API-Key": KEYS[scope]}
            statuses.append(case.call_and_validate(checks=CHECKS).status_code)

        run()
    assert len(statuses) >= 3 * len(operations)  # every operation was called, several times
    assert any(200 <= code < 300 for code in statuses)  # the key was accepted: not only 4xx


@pytest.mark.fuzz
def test_generated_widget_requests_get_no_server_error_and_match_the_spec(api_schema: Any) -> None:
    _fuzz(api_schema, "widget")


@pytest.mark.fuzz
def test_generated_agent_requests_get_no_server_error_and_match_the_spec(api_schema: Any) -> None:
    _fuzz(api_schema, "agent")


@pytest.mark.fuzz
def test_generated_admin_requests_get_no_server_error_and_match_the_spec(api_schema: Any) -> None:
    _fuzz(api_schema, "admin")
