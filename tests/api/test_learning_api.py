"""The learning loop over HTTP: learned entries with usage counts and review dates, retire and
rollback (each an event with who and when), retrieval misses. Real Chroma, SQLite, MiniLM."""

from __future__ import annotations

from datetime import date, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from firstlast.api.app import create_app
from firstlast.db import EventRow
from firstlast.wiring import Services
from tests.conftest import ADMIN_KEY, AGENT_KEY, BOTH_DATABASES, WIDGET_KEY

pytestmark = BOTH_DATABASES  # SQLite and PostgreSQL

WIDGET = {"Authorization": f"Bearer {WIDGET_KEY}"}
AGENT = {"Authorization": f"Bearer {AGENT_KEY}"}
ADMIN = {"X-API-Key": ADMIN_KEY}
QUESTION = "Do you offer a discount for non-profit organisations?"
DISCOUNT = "Yes: registered non-profit organisations get 50% off the Team plan."
NO_DISCOUNT = "No, we stopped our non-profit programme in 2024; all plans are full price."


def _ask(client: TestClient, text: str) -> dict:
    """A new conversation with one question; the reply plus the widget headers to continue it."""
    conv = client.post("/v1/conversations", headers=WIDGET, json={}).json()
    headers = {**WIDGET, "X-Conversation-Token": conv["token"]}
    response = client.post(f"/v1/conversations/{conv['id']}/messages", headers=headers, json={"text": text})
    assert response.status_code == 200, response.text
    return {**response.json(), "headers": headers}


def _say(client: TestClient, reply: dict, text: str) -> dict:
    url = f"/v1/conversations/{reply['conversation_id']}/messages"
    response = client.post(url, headers=reply["headers"], json={"text": text})
    assert response.status_code == 200, response.text
    return {**response.json(), "headers": reply["headers"]}


def _learn(client: TestClient, question: str, answer: str, **approve: object) -> dict:
    handed = _ask(client, question)
    if handed["decision"] == "offer":  # low confidence offers a person first; the customer accepts
        handed = _say(client, handed, "Yes please")
    assert handed["decision"] == "handoff", handed
    replied = client.post(
        f"/v1/handoffs/{handed['handoff_id']}/reply", headers=AGENT, json={"agent": "sam", "text": answer}
    ).json()
    suggestion = replied["suggestion"]
    assert suggestion is not None, replied
    response = client.post(
        f"/v1/suggestions/{suggestion['id']}/approve",
        headers=AGENT,
        json={"approver": "lead", **approve},
    )
    assert response.status_code == 200, response.text
    return response.json()


def _events(services: Services, entity_id: str) -> list[tuple[str, str]]:
    with services.db.session() as s:
        rows = s.scalars(
            select(EventRow)
            .where(EventRow.entity == "learned", EventRow.entity_id == entity_id)
            .order_by(EventRow.id)
        )
        return [(r.action, r.actor) for r in rows if r.at is not None]


def test_learned_entry_counts_usage_lists_due_reviews_and_retires_at_once(sample_services: Services) -> None:
    client = TestClient(create_app(sample_services))
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    approved = _learn(client, QUESTION, DISCOUNT, review_at=yesterday)
    entry_id = approved["learned_doc_id"].removeprefix("learned/")
    assert approved["count"] == 1 and approved["sources"][0]["agent"] == "sam"

    ratings = ({"thumbs": "up"}, {"rating": 4})
    for text, rating in zip(
        ("Do you offer discounts to non-profit organisations?", "Is there a non-profit discount?"), ratings
    ):
        reply = _ask(client, text)
        assert reply["decision"] == "answer" and reply["citations"][0]["doc_id"] == approved["learned_doc_id"]
        rated = client.post(
            f"/v1/conversations/{reply['conversation_id']}/feedback",
            headers=reply["headers"],
            json={**rating, "message_id": reply["reply"]["id"]},
        )
        assert rated.status_code == 201, rated.text
    entry = client.get(f"/v1/learned/{entry_id}", headers=AGENT).json()
    assert entry["usage_count"] == 2 and entry["status"] == "active" and entry["review_at"] == yesterday
    assert entry["versions"][0]["approved_by"] == "lead"
    assert entry["feedback"] == {"thumbs_up": 1.0, "thumbs_down": 0.0, "ratings": 1.0, "mean_rating": 4.0}
    due = client.get("/v1/learned?due_for_review=true", headers=AGENT).json()
    assert [e["id"] for e in due] == [entry_id]
    later = (date.today() + timedelta(days=90)).isoformat()
    reviewed = client.post(
        f"/v1/learned/{entry_id}/review", headers=AGENT, json={"actor": "kim", "review_at": later}
    ).json()
    assert reviewed["review_at"] == later
    assert client.get("/v1/learned?due_for_review=true", headers=AGENT).json() == []

    retired = client.post(
        f"/v1/learned/{entry_id}/retire", headers=ADMIN, json={"actor": "lead", "note": "programme ended"}
    )
    assert retired.status_code == 200 and retired.json()["status"] == "retired"
    assert client.get("/v1/knowledge?source=learned", headers=ADMIN).json() == []
    after = _ask(client, "Do you offer discounts to non-profit organisations?")
    assert all(c["doc_id"] != approved["learned_doc_id"] for c in after["citations"])
    assert client.get(f"/v1/learned/{entry_id}", headers=AGENT).json()["usage_count"] == 2  # kept
    assert client.get("/v1/learned?status=retired", headers=AGENT).json()[0]["id"] == entry_id
    assert (
        client.post(f"/v1/learned/{entry_id}/retire", headers=AGENT, json={"actor": "x"}).status_code == 409
    )
    assert _events(sample_services, entry_id) == [
        ("created", "lead"),
        ("reviewed", "kim"),
        ("retired", "lead"),
    ]


def test_rollback_restores_the_previous_version_then_removes_the_entry(sample_services: Services) -> None:
    client = TestClient(create_app(sample_services))
    first = _learn(client, QUESTION, DISCOUNT)
    doc_id = first["learned_doc_id"]
    entry_id = doc_id.removeprefix("learned/")
    # A later agent says otherwise; the suggestion shows the conflict and approving it makes v2.
    resolution = sample_services.learning.on_resolved(
        "Hi, do non-profit organisations get a discount?", NO_DISCOUNT, agent="kim"
    )
    assert resolution.suggestion is not None, resolution.verdict
    suggestion = client.get(f"/v1/suggestions/{resolution.suggestion.id}", headers=AGENT).json()
    assert suggestion["conflict"]["doc_id"] == doc_id and suggestion["conflict"]["text"] == DISCOUNT
    second = client.post(
        f"/v1/suggestions/{suggestion['id']}/approve", headers=AGENT, json={"approver": "lead"}
    ).json()
    assert second["learned_doc_id"] == doc_id
    assert "full price" in _ask(client, "Is there a non-profit discount?")["reply"]["text"]

    rolled = client.post(f"/v1/learned/{entry_id}/rollback", headers=AGENT, json={"actor": "lead"}).json()
    assert rolled["version"] == 1 and rolled["answer"] == DISCOUNT and rolled["status"] == "active"
    assert [v["status"] for v in rolled["versions"]] == ["current", "rolled_back"]
    assert "50% off" in _ask(client, "Is there a non-profit discount?")["reply"]["text"]

    gone = client.post(f"/v1/learned/{entry_id}/rollback", headers=AGENT, json={"actor": "lead"}).json()
    assert gone["status"] == "retired"
    assert client.get("/v1/knowledge?source=learned", headers=ADMIN).json() == []
    actions = [a for a, _ in _events(sample_services, entry_id)]
    assert actions == ["created", "superseded", "rolled_back", "rolled_back"]


def test_retrieval_misses_are_listed_with_the_document(sample_services: Services) -> None:
    client = TestClient(create_app(sample_services))
    handed = _ask(client, "hello, my money back for a yearly plus plan - possible??")
    if handed["decision"] != "handoff":  # the bot may well answer; ask for a person then
        handed = client.post(
            f"/v1/conversations/{handed['conversation_id']}/messages",
            headers=AGENT,
            json={"text": "talk to a human"},
        ).json()
    replied = client.post(
        f"/v1/handoffs/{handed['handoff_id']}/reply",
        headers=AGENT,
        json={"agent": "sam", "text": "You can get a full refund within 14 days of an annual Plus charge."},
    ).json()
    assert replied["suggestion"] is None
    misses = client.get("/v1/learning/misses", headers=AGENT).json()
    assert len(misses) == 1 and misses[0]["doc_id"] in {"billing-refund-policy", "faq"}
    assert misses[0]["handoff_id"] == handed["handoff_id"]
    assert client.get("/v1/learning/misses?doc_id=nope", headers=AGENT).json() == []


def test_learned_routes_check_scope_and_input(sample_services: Services) -> None:
    client = TestClient(create_app(sample_services))
    assert client.get("/v1/learned", headers=WIDGET).status_code == 403
    assert client.get("/v1/learning/misses").status_code == 401
    missing = client.post("/v1/learned/nope/retire", headers=AGENT, json={"actor": "lead"})
    assert missing.status_code == 404 and "not found" in missing.json()["detail"]
    bad = client.post("/v1/learned/nope/retire", headers=AGENT, json={"actor": ""})
    assert bad.status_code == 422 and "actor" in bad.json()["detail"]
    bad_date = client.post(
        "/v1/suggestions/x/approve", headers=AGENT, json={"approver": "a", "review_at": "soon"}
    )
    assert bad_date.status_code == 422 and "review_at" in bad_date.json()["detail"]
