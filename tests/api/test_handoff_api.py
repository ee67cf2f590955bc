"""Handoff routes over HTTP: the packet, assignment, replies without resolving, resolve, and
customer feedback. Real Chroma, SQLite and MiniLM behind a TestClient."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from firstlast.api.app import create_app
from firstlast.wiring import Services
from tests.conftest import ADMIN_KEY, AGENT_KEY, BOTH_DATABASES, WIDGET_KEY

pytestmark = BOTH_DATABASES  # SQLite and PostgreSQL

WIDGET = {"Authorization": f"Bearer {WIDGET_KEY}"}
AGENT = {"Authorization": f"Bearer {AGENT_KEY}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture
def client(services: Services) -> TestClient:
    """An empty knowledge base: enough for routes that do not need answers (and much faster)."""
    return TestClient(create_app(services), raise_server_exceptions=False)


@pytest.fixture
def kb_client(sample_services: Services) -> TestClient:
    return TestClient(create_app(sample_services), raise_server_exceptions=False)


def _open(client: TestClient, **context: object) -> tuple[str, dict[str, str]]:
    body = client.post("/v1/conversations", headers=WIDGET, json={"context": context}).json()
    return body["id"], {**WIDGET, "X-Conversation-Token": body["token"]}


def _say(client: TestClient, conv: str, headers: dict[str, str], text: str) -> dict:
    response = client.post(f"/v1/conversations/{conv}/messages", headers=headers, json={"text": text})
    assert response.status_code == 200, response.text
    return response.json()


def test_agent_opens_the_packet_reassigns_replies_twice_and_resolves(kb_client: TestClient) -> None:
    client = kb_client
    conv, headers = _open(client, page_url="https://app.example/billing", attributes={"plan": "team"})
    _say(client, conv, headers, "How do I turn on two-factor authentication?")
    handed = _say(client, conv, headers, "I want to cancel my subscription and get a refund for March")
    assert (handed["decision"], handed["reason"]) == ("handoff", "sensitive_topic")
    hid = handed["handoff_id"]
    _say(client, conv, headers, "I was charged twice for the Team plan in March.")

    packet = client.get(f"/v1/handoffs/{hid}", headers=AGENT).json()
    assert packet["reason"] == "sensitive_topic" and "refund" in packet["detail"]
    assert packet["customer_context"] == {
        "page_url": "https://app.example/billing",
        "attributes": {"plan": "team"},
    }
    assert [(t["role"], t["after_handoff"]) for t in packet["transcript"]] == [
        ("customer", False),
        ("bot", False),
        ("customer", False),
        ("bot", False),
        ("customer", True),
    ]
    assert "I was charged twice for the Team plan in March." in packet["summary"]
    assert packet["suggested_reply"]["source"] in ("draft", "passage")
    assert packet["suggested_reply"]["text"]
    assert packet["draft"]["confidence"] is not None and packet["sources"]
    assert packet["assignee"] is None and packet["assignments"] == []
    assert [e["action"] for e in packet["events"]] == ["opened"]

    assigned = client.post(f"/v1/handoffs/{hid}/assign", headers=AGENT, json={"agent": "sam", "by": "lead"})
    assert assigned.status_code == 200 and assigned.json()["status"] == "assigned"
    client.post(f"/v1/handoffs/{hid}/assign", headers=AGENT, json={"agent": "kim", "by": "lead"})
    assert client.get(f"/v1/conversations/{conv}", headers=headers).json()["status"] == "with_agent"

    first = client.post(
        f"/v1/handoffs/{hid}/reply",
        headers=AGENT,
        json={"agent": "kim", "text": "I can see both charges.", "resolve": False},
    ).json()
    assert first["handoff"]["status"] == "assigned" and first["suggestion"] is None
    client.post(
        f"/v1/handoffs/{hid}/reply",
        headers=AGENT,
        json={
            "agent": "kim",
            "text": "The duplicate March charge is refunded within 5 days.",
            "resolve": False,
        },
    )
    resolved = client.post(f"/v1/handoffs/{hid}/resolve", headers=AGENT, json={"agent": "kim"})
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["suggestion"]["answer"] == "The duplicate March charge is refunded within 5 days."
    assert resolved.json()["handoff"]["status"] == "resolved"

    packet = client.get(f"/v1/handoffs/{hid}", headers=AGENT).json()
    assert packet["assignee"] == "kim"
    assert [(a["by"], a["from"], a["to"]) for a in packet["assignments"]] == [
        ("lead", None, "sam"),
        ("lead", "sam", "kim"),
    ]
    # the learning loop records its verdict on the resolved handoff
    assert [e["action"] for e in packet["events"]] == [
        "opened",
        "assigned",
        "assigned",
        "resolved",
        "verdict",
    ]
    assert [t["role"] for t in packet["transcript"]][-2:] == ["agent", "agent"]
    view = client.get(f"/v1/conversations/{conv}", headers=headers).json()
    assert view["status"] == "resolved" and view["messages"][-1]["author"] == "kim"


def test_invalid_transitions_are_409_with_a_message(client: TestClient) -> None:
    conv, headers = _open(client)
    hid = _say(client, conv, headers, "talk to a human")["handoff_id"]
    early = client.post(f"/v1/handoffs/{hid}/resolve", headers=AGENT, json={"agent": "sam"})
    assert early.status_code == 409 and "reply to it before resolving" in early.json()["detail"]
    client.post(f"/v1/handoffs/{hid}/reply", headers=AGENT, json={"agent": "sam", "text": "Done."})
    for path, body in [
        ("reply", {"agent": "sam", "text": "again"}),
        ("resolve", {"agent": "sam"}),
        ("assign", {"agent": "kim"}),
    ]:
        response = client.post(f"/v1/handoffs/{hid}/{path}", headers=AGENT, json=body)
        assert response.status_code == 409, (path, response.text)
        assert "resolved" in response.json()["detail"]


def test_an_offered_handoff_cannot_be_assigned_until_the_customer_accepts(client: TestClient) -> None:
    conv, headers = _open(client)
    offered = _say(client, conv, headers, "Do you offer a discount for non-profit organisations?")
    assert (offered["decision"], offered["reason"]) == ("offer", "no_knowledge")  # empty knowledge base
    hid = offered["handoff_id"]
    refused = client.post(f"/v1/handoffs/{hid}/assign", headers=AGENT, json={"agent": "sam"})
    assert refused.status_code == 409 and "offered" in refused.json()["detail"]
    assert [h["id"] for h in client.get("/v1/handoffs?status=offered", headers=AGENT).json()] == [hid]
    accepted = _say(client, conv, headers, "はい、お願いします")
    assert accepted["decision"] == "handoff" and accepted["handoff_id"] == hid
    assert client.post(f"/v1/handoffs/{hid}/assign", headers=AGENT, json={"agent": "sam"}).status_code == 200


def test_unknown_handoff_and_bad_bodies_are_4xx(client: TestClient) -> None:
    assert client.post("/v1/handoffs/nope/assign", headers=AGENT, json={"agent": "sam"}).status_code == 404
    assert client.post("/v1/handoffs/nope/resolve", headers=AGENT, json={"agent": "sam"}).status_code == 404
    assert client.get("/v1/handoffs/nope", headers=AGENT).status_code == 404
    bad = client.post("/v1/handoffs/nope/assign", headers=AGENT, json={"agent": ""})
    assert bad.status_code == 422 and "agent" in bad.json()["detail"]
    assert client.get("/v1/handoffs?status=lost", headers=AGENT).status_code == 422


# -- feedback --------------------------------------------------------------------------------------


def test_customer_rates_replies_and_agents_list_feedback(client: TestClient) -> None:
    conv, headers = _open(client)
    answered = _say(client, conv, headers, "How do I turn on two-factor authentication?")
    bot_message = answered["reply"]["id"]  # the bot's reply (an offer: the knowledge base is empty)
    up = client.post(
        f"/v1/conversations/{conv}/feedback",
        headers=headers,
        json={"thumbs": "up", "message_id": bot_message, "comment": "  clear, thanks  "},
    )
    assert up.status_code == 201, up.text
    assert up.json() | {"id": 0, "created_at": ""} == {
        "id": 0,
        "conversation_id": conv,
        "message_id": bot_message,
        "thumbs": "up",
        "rating": None,
        "comment": "clear, thanks",
        "created_at": "",
    }
    rated = client.post(f"/v1/conversations/{conv}/feedback", headers=headers, json={"rating": 2})
    assert rated.status_code == 201 and rated.json()["message_id"] is None

    other, other_headers = _open(client)
    hid = _say(client, other, other_headers, "talk to a human")["handoff_id"]
    client.post(f"/v1/handoffs/{hid}/reply", headers=AGENT, json={"agent": "sam", "text": "Hi, Sam here."})
    agent_message = client.get(f"/v1/conversations/{other}", headers=other_headers).json()["messages"][-1][
        "id"
    ]
    down = client.post(
        f"/v1/conversations/{other}/feedback",
        headers=other_headers,
        json={"thumbs": "down", "message_id": agent_message},
    )
    assert down.status_code == 201

    view = client.get(f"/v1/conversations/{conv}", headers=headers).json()
    assert [(f["thumbs"], f["rating"]) for f in view["feedback"]] == [("up", None), (None, 2)]

    def ids(query: str) -> list[int]:
        response = client.get(f"/v1/feedback{query}", headers=AGENT)
        assert response.status_code == 200, response.text
        return [f["id"] for f in response.json()]

    every = ids("")
    assert every == [down.json()["id"], rated.json()["id"], up.json()["id"]]  # newest first
    assert ids("?thumbs=up") == [up.json()["id"]]
    assert ids("?max_rating=3") == [rated.json()["id"]]
    assert ids("?min_rating=3") == []
    assert ids(f"?conversation_id={other}") == [down.json()["id"]]
    assert ids("?role=agent") == [down.json()["id"]]
    assert ids("?role=bot") == [up.json()["id"]]
    assert ids("?since=2000-01-01T00:00:00") == every
    assert ids("?since=2999-01-01T00:00:00Z") == []
    assert client.get("/v1/feedback", headers=WIDGET).status_code == 403
    assert client.get("/v1/feedback", headers=ADMIN).status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({}, 422, "either thumbs"),
        ({"thumbs": "up", "rating": 5}, 422, "either thumbs"),
        ({"thumbs": "sideways"}, 422, "thumbs"),
        ({"rating": 6}, 422, "rating"),
        ({"rating": 0}, 422, "rating"),
        ({"rating": 3, "comment": "x" * 2001}, 422, "comment"),
        ({"rating": 3, "stars": 3}, 422, "stars"),
        ({"rating": 3, "message_id": 999999}, 404, "message 999999 not found"),
    ],
)
def test_bad_feedback_is_a_clear_4xx(client: TestClient, body, status, message) -> None:
    conv, headers = _open(client)
    response = client.post(f"/v1/conversations/{conv}/feedback", headers=headers, json=body)
    assert response.status_code == status, response.text
    assert message in response.json()["detail"]


def test_feedback_on_another_conversations_message_or_the_customers_own_is_refused(
    client: TestClient,
) -> None:
    mine, my_headers = _open(client)
    theirs, their_headers = _open(client)
    their_reply = _say(client, theirs, their_headers, "How do I turn on two-factor authentication?")
    foreign = client.post(
        f"/v1/conversations/{mine}/feedback",
        headers=my_headers,
        json={"thumbs": "up", "message_id": their_reply["reply"]["id"]},
    )
    assert foreign.status_code == 404 and "not found in conversation" in foreign.json()["detail"]
    own = client.post(
        f"/v1/conversations/{theirs}/feedback",
        headers=their_headers,
        json={"thumbs": "up", "message_id": their_reply["message"]["id"]},
    )
    assert own.status_code == 422 and "customer's own" in own.json()["detail"]
    wrong_token = client.post(f"/v1/conversations/{theirs}/feedback", headers=my_headers, json={"rating": 5})
    assert wrong_token.status_code == 403
    missing = client.post("/v1/conversations/nope/feedback", headers=AGENT, json={"rating": 5})
    assert missing.status_code == 404
    assert client.get(f"/v1/conversations/{mine}", headers=my_headers).json()["feedback"] == []


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/handoffs/abc/assign", {"agent": "a"}),
        ("POST", "/v1/handoffs/abc/resolve", {"agent": "a"}),
        ("GET", "/v1/feedback", None),
    ],
)
def test_widget_key_is_forbidden_on_the_new_agent_routes(client: TestClient, method, path, body) -> None:
    assert client.request(method, path, headers=WIDGET, json=body).status_code == 403
