"""API keys, conversation tokens and bad input: always a 4xx with a message, never a 500."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from firstlast.api.app import create_app
from firstlast.wiring import Services
from tests.conftest import ADMIN_KEY, AGENT_KEY, WIDGET_KEY, upload_and_wait

WIDGET = {"Authorization": f"Bearer {WIDGET_KEY}"}
AGENT = {"Authorization": f"Bearer {AGENT_KEY}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}

AGENT_ROUTES = [
    ("GET", "/v1/handoffs", None),
    ("GET", "/v1/handoffs/abc", None),
    ("POST", "/v1/handoffs/abc/reply", {"agent": "a", "text": "t"}),
    ("GET", "/v1/suggestions", None),
    ("POST", "/v1/suggestions/abc/approve", {"approver": "a"}),
    ("POST", "/v1/suggestions/abc/reject", {"approver": "a"}),
]
ADMIN_ROUTES = [("GET", "/v1/knowledge", None), ("DELETE", "/v1/knowledge/some-doc", None)]


@pytest.fixture
def client(services: Services) -> TestClient:
    return TestClient(create_app(services), raise_server_exceptions=False)


@pytest.mark.parametrize(("method", "path", "body"), AGENT_ROUTES + ADMIN_ROUTES)
def test_widget_key_is_forbidden_on_agent_and_admin_routes(client: TestClient, method, path, body) -> None:
    response = client.request(method, path, headers=WIDGET, json=body)
    assert response.status_code == 403
    assert "key" in response.json()["detail"]


def test_widget_key_is_forbidden_on_upload(client: TestClient) -> None:
    files = [("files", ("a.md", b"# A\n\ntext", "text/markdown"))]
    assert client.post("/v1/knowledge", headers=WIDGET, files=files).status_code == 403


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
def test_agent_key_is_forbidden_on_admin_routes(client: TestClient, method, path, body) -> None:
    assert client.request(method, path, headers=AGENT, json=body).status_code == 403


def test_missing_or_unknown_key_is_unauthorized(client: TestClient) -> None:
    assert client.post("/v1/conversations", json={}).status_code == 401
    assert client.post("/v1/conversations", json={}, headers={"X-API-Key": "nope"}).status_code == 401


def test_visitor_reaches_only_their_own_conversation(client: TestClient) -> None:
    mine = client.post("/v1/conversations", headers=WIDGET, json={}).json()
    theirs = client.post("/v1/conversations", headers=WIDGET, json={}).json()
    own = {**WIDGET, "X-Conversation-Token": mine["token"]}
    assert client.get(f"/v1/conversations/{mine['id']}", headers=own).status_code == 200
    assert client.get(f"/v1/conversations/{theirs['id']}", headers=own).status_code == 403
    assert client.get(f"/v1/conversations/{mine['id']}", headers=WIDGET).status_code == 403
    post = client.post(f"/v1/conversations/{theirs['id']}/messages", headers=own, json={"text": "hi"})
    assert post.status_code == 403
    assert client.get(f"/v1/conversations/{mine['id']}", headers=AGENT).status_code == 200
    assert client.get("/v1/conversations/does-not-exist", headers=AGENT).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"text": ""},
        {"text": "x" * 4001},
        {},
        {"text": 5},
        {"text": "hi", "unexpected": 1},
        {"text": "hi", "context": {"page_url": ["not", "a", "string"]}},
        ["not", "an", "object"],
    ],
)
def test_malformed_message_bodies_get_422_with_a_message(client: TestClient, body) -> None:
    conv = client.post("/v1/conversations", headers=WIDGET, json={}).json()
    headers = {**WIDGET, "X-Conversation-Token": conv["token"]}
    response = client.post(f"/v1/conversations/{conv['id']}/messages", headers=headers, json=body)
    assert response.status_code == 422
    assert response.json()["detail"]


def test_non_json_body_gets_422(client: TestClient) -> None:
    response = client.post(
        "/v1/conversations", headers={**WIDGET, "Content-Type": "application/json"}, content=b"{not json"
    )
    assert response.status_code == 422


def test_bad_channel_and_unknown_ids(client: TestClient) -> None:
    assert client.post("/v1/conversations", headers=WIDGET, json={"channel": "fax"}).status_code == 422
    assert client.get("/v1/handoffs/nope", headers=AGENT).status_code == 404
    reply = client.post("/v1/handoffs/nope/reply", headers=AGENT, json={"agent": "a", "text": "t"})
    assert reply.status_code == 404 and "nope" in reply.json()["detail"]
    assert client.post("/v1/suggestions/nope/approve", headers=AGENT, json={}).status_code == 422
    assert (
        client.post("/v1/suggestions/nope/approve", headers=AGENT, json={"approver": "a"}).status_code == 404
    )
    assert client.get("/v1/handoffs?status=weird", headers=AGENT).status_code == 422


def test_bad_uploads_are_rejected_and_store_is_untouched(client: TestClient, services: Services) -> None:
    good = [("files", ("a.md", b"# Alpha\n\nAlpha text.", "text/markdown"))]
    assert upload_and_wait(client, good, ADMIN)["status"] == "done"
    before = services.store.count()
    exe = [("files", ("tool.exe", b"MZ\x00\x01", "application/octet-stream"))]
    assert client.post("/v1/knowledge", headers=ADMIN, files=exe).status_code == 415
    bad_jsonl = [("files", ("kb.jsonl", b'{"id": "1", "text": "ok"}\n{broken', "application/json"))]
    response = client.post("/v1/knowledge", headers=ADMIN, files=bad_jsonl)
    assert response.status_code == 422 and "kb.jsonl:2" in response.json()["detail"]
    bad_pdf = [("files", ("doc.pdf", b"%PDF-1.4 garbage", "application/pdf"))]
    assert client.post("/v1/knowledge", headers=ADMIN, files=bad_pdf).status_code == 422
    assert client.post("/v1/knowledge", headers=ADMIN).status_code == 422
    assert services.store.count() == before


def test_healthz_and_openapi_docs(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    assert client.get("/docs").status_code == 200
    assert "/v1/conversations/{conversation_id}/messages" in client.get("/openapi.json").json()["paths"]
