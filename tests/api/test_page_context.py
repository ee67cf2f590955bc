"""The page the widget is on travels with the conversation and its messages, and the bot reads it as
a hint for questions that do not say which article they are about (issue #15)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from firstlast.api.app import create_app
from firstlast.wiring import Services
from tests.conftest import WIDGET_KEY

WIDGET = {"Authorization": f"Bearer {WIDGET_KEY}"}


@pytest.fixture
def client(sample_services: Services) -> TestClient:
    return TestClient(create_app(sample_services), raise_server_exceptions=False)


def _ask(client: TestClient, context: dict, text: str, message_context: dict | None = None) -> dict:
    body = client.post("/v1/conversations", headers=WIDGET, json={"context": context}).json()
    headers = {**WIDGET, "X-Conversation-Token": body["token"]}
    message = {"text": text, **({"context": message_context} if message_context else {})}
    response = client.post(f"/v1/conversations/{body['id']}/messages", headers=headers, json=message)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_question_on_the_invoices_page_is_answered_from_the_invoices_article(client: TestClient) -> None:
    page = {"page_url": "https://app.example/billing", "page_title": "Invoices"}
    out = _ask(client, page, "Can I download them?")
    assert out["decision"] == "answer"
    assert out["reply"]["citations"][0]["doc_id"] == "billing-invoices-and-taxes"


def test_the_messages_page_replaces_the_page_the_conversation_opened_on(client: TestClient) -> None:
    opened = {"page_url": "https://app.example/billing", "page_title": "Invoices"}
    now = {"page_url": "https://app.example/settings", "page_title": "Export your data"}
    out = _ask(client, opened, "Can I download them?", now)
    assert out["reply"]["citations"][0]["doc_id"] == "account-export-data"


def test_a_page_title_longer_than_the_widget_sends_is_refused(client: TestClient) -> None:
    response = client.post("/v1/conversations", headers=WIDGET, json={"context": {"page_title": "x" * 301}})
    assert response.status_code == 422, response.text
