"""Operations: /readyz says why it is not ready, every response carries a request id that the JSON
log lines of the request carry too, and /metrics counts latency by route template, decisions by
reason, handoffs and the learned entries that answered."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from firstlast.api.app import create_app
from firstlast.api.ops import JsonFormatter, app_from_settings, serving
from firstlast.config import Settings
from firstlast.testing.postgres import PostgresCluster
from firstlast.wiring import Services, build
from tests.conftest import WIDGET_KEY

WIDGET = {"Authorization": f"Bearer {WIDGET_KEY}"}


@pytest.fixture
def client(sample_services: Services) -> TestClient:
    return TestClient(create_app(sample_services))


def _say(client: TestClient, text: str, **headers: str) -> tuple[dict, dict]:
    conv = client.post("/v1/conversations", headers=WIDGET, json={}).json()
    response = client.post(
        f"/v1/conversations/{conv['id']}/messages",
        headers={**WIDGET, "X-Conversation-Token": conv["token"], **headers},
        json={"text": text},
    )
    assert response.status_code == 200, response.text
    return response.json(), dict(response.headers)


def test_readyz_is_ready_when_the_stores_answer_and_the_models_are_loaded(client: TestClient) -> None:
    ready = client.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready" and body["checks"]["database"] == "ok"
    assert body["checks"]["knowledge_base"].endswith("chunks") and body["checks"]["models"]


def test_readyz_is_503_with_the_reason_when_the_database_is_gone(
    make_settings: Callable[..., Settings], embedder, postgres_cluster: PostgresCluster
) -> None:
    url = postgres_cluster.create_database()
    services = build(make_settings(database_url=url), embedder=embedder)
    client = TestClient(create_app(services))
    assert client.get("/readyz").status_code == 200
    postgres_cluster.drop_database(url)  # the database server loses it under the running service
    gone = client.get("/readyz")
    assert gone.status_code == 503
    assert gone.json() == {"status": "not ready", "reason": "database: OperationalError"}
    assert client.get("/healthz").status_code == 200  # alive, just not ready


def test_a_request_id_is_taken_from_the_caller_or_made(client: TestClient) -> None:
    assert (
        client.get("/healthz", headers={"X-Request-ID": "lb-7f3a.42"}).headers["x-request-id"] == "lb-7f3a.42"
    )
    made = client.get("/healthz").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    hostile = client.get("/healthz", headers={"X-Request-ID": "x" * 500}).headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", hostile)


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("firstlast")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(old_level)


def test_log_lines_are_json_with_the_request_id_and_the_route_template(
    client: TestClient, json_log: io.StringIO
) -> None:
    _reply, headers = _say(client, "How do I turn on two-factor authentication?", **{"X-Request-ID": "req-1"})
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    (access,) = [
        line for line in lines if line["logger"] == "firstlast.access" and line["request_id"] == "req-1"
    ]
    assert access["route"] == "/v1/conversations/{conversation_id}/messages"
    assert access["status"] == 200 and access["method"] == "POST" and access["ms"] > 0
    assert headers["x-request-id"] == "req-1"


def _metric(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            found = dict(re.findall(r'(\w+)="([^"]*)"', line.rsplit(" ", 1)[0]))
            if all(found.get(k) == v for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_latency_decisions_handoffs_and_learned_answers(
    client: TestClient, sample_services: Services
) -> None:
    answered, _ = _say(client, "How do I turn on two-factor authentication?")
    handed, _ = _say(client, "I want to talk to a human")
    assert (answered["decision"], handed["decision"]) == ("answer", "handoff")
    learning = sample_services.learning
    suggestion = learning.suggest(
        "Do you offer a discount for non-profit organisations?",
        "Yes: registered non-profit organisations get 50% off the Team plan.",
        agent="sam",
    )
    doc_id = learning.approve(suggestion.id, approver="lead").learned_doc_id
    learned, _ = _say(client, "Is there a non-profit discount?")
    assert learned["citations"][0]["doc_id"] == doc_id

    text = client.get("/metrics").text
    route = "/v1/conversations/{conversation_id}/messages"
    assert _metric(text, "firstlast_request_seconds_count", route=route, method="POST", status="200") == 3
    assert _metric(text, "firstlast_decisions_total", action="answer", reason="") == 2
    assert _metric(text, "firstlast_decisions_total", action="handoff", reason="customer_request") == 1
    assert _metric(text, "firstlast_handoffs_total", reason="customer_request") == 1
    assert _metric(text, "firstlast_learned_answers_total", doc_id=doc_id or "") == 1
    assert "conversations/" + answered["conversation_id"] not in text  # ids never become labels


def test_a_serving_process_embeds_uploads_on_one_engine_thread_unless_told(
    make_settings: Callable[..., Settings],
) -> None:
    """An upload under traffic leaves the other cores to the customers (`serve`'s default); an
    explicit ``embedding.threads`` is kept."""
    served = app_from_settings(make_settings()).state.services
    minilm = served.embedder.model("latin")
    minilm.embed_documents(["Invoices are in Billing > History.", "Refunds take five days."])
    assert sorted(minilm._onnx._sessions) == [1]
    assert serving(make_settings(embedding={"threads": 2})).embedding.threads == 2
    assert make_settings().embedding.threads is None  # `firstlast ingest` takes every core
