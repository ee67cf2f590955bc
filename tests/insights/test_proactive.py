"""Proactive help: suggested articles for the widget's page (off by default), shows and clicks
recorded, click-through in analytics. Real app, sample help center, MiniLM."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from firstlast.api.app import create_app
from firstlast.insights.proactive import page_query
from firstlast.retriever.embeddings import MiniLMEmbedder
from firstlast.wiring import Services
from tests.conftest import AGENT_KEY, WIDGET_KEY
from tests.insights.conftest import _services

WIDGET = {"Authorization": f"Bearer {WIDGET_KEY}"}
AGENT = {"Authorization": f"Bearer {AGENT_KEY}"}
TWO_FACTOR = "account-two-factor-authentication"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, minilm: MiniLMEmbedder) -> Iterator[TestClient]:
    services: Services = _services(tmp_path_factory.mktemp("proactive"), minilm, insights={"proactive": True})
    yield TestClient(create_app(services))
    services.close()


def _open(client: TestClient, page_url: str) -> tuple[str, dict[str, str]]:
    body = client.post("/v1/conversations", headers=WIDGET, json={"context": {"page_url": page_url}}).json()
    return body["id"], {**WIDGET, "X-Conversation-Token": body["token"]}


def test_the_page_path_and_title_make_the_query() -> None:
    assert page_query("https://app.example/billing/update-payment-method?x=1", "Plans") == (
        "Plans billing update payment method"
    )
    assert page_query("https://app.example/p/42") == ""


def test_articles_for_a_billing_page_are_billing_articles_and_need_the_token(app: TestClient) -> None:
    cid, headers = _open(app, "https://app.nimbusnotes.example/billing/payment-method")
    assert app.get(f"/v1/conversations/{cid}/articles", headers=WIDGET).status_code == 403
    articles = app.get(f"/v1/conversations/{cid}/articles", headers=headers).json()
    assert 1 <= len(articles) <= 3
    assert articles[0]["doc_id"].startswith("billing-"), articles


def test_articles_that_resolved_questions_from_a_page_are_suggested_there(app: TestClient) -> None:
    page = "https://app.nimbusnotes.example/p/42"  # no words in the path: only history can rank
    cid, headers = _open(app, page)
    assert app.get(f"/v1/conversations/{cid}/articles", headers=headers).json() == []
    reply = app.post(
        f"/v1/conversations/{cid}/messages",
        headers=headers,
        json={"text": "How do I turn on two-factor authentication?"},
    ).json()
    assert reply["decision"] == "answer" and reply["citations"][0]["doc_id"].endswith(TWO_FACTOR)
    app.post(f"/v1/conversations/{cid}/feedback", headers=headers, json={"thumbs": "up"})
    later, later_headers = _open(app, page)
    articles = app.get(f"/v1/conversations/{later}/articles", headers=later_headers).json()
    assert [a["doc_id"] for a in articles] == [reply["citations"][0]["doc_id"]]


def test_a_click_is_recorded_and_counted_in_click_through(app: TestClient) -> None:
    before = app.get("/v1/analytics/proactive?since=1d", headers=AGENT).json()
    cid, headers = _open(app, "https://app.nimbusnotes.example/billing/plans")
    shown = app.get(f"/v1/conversations/{cid}/articles", headers=headers).json()
    assert app.post(f"/v1/conversations/{cid}/articles/not-shown/click", headers=headers).status_code == 404
    assert (
        app.post(f"/v1/conversations/{cid}/articles/{shown[0]['doc_id']}/click", headers=headers).status_code
        == 204
    )
    after = app.get("/v1/analytics/proactive?since=1d", headers=AGENT).json()
    assert (after["shown"], after["clicked"]) == (before["shown"] + 1, before["clicked"] + 1)
    assert after["rate"] == pytest.approx(after["clicked"] / after["shown"])


def test_proactive_help_is_off_by_default(traffic) -> None:
    _services, client, results = traffic
    response = client.get(f"/v1/conversations/{results[0].conversation_id}/articles", headers=AGENT)
    assert response.status_code == 404 and "proactive help is off" in response.json()["detail"]
