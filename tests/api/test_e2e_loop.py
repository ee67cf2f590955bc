"""The whole loop through the HTTP API: answer -> handoff -> agent reply -> suggestion -> approve ->
the bot answers a paraphrase from the learned entry. Real Chroma, SQLite and MiniLM."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from firstlast.api.app import create_app
from firstlast.wiring import Services
from tests.conftest import ADMIN_KEY, AGENT_KEY, BOTH_DATABASES, SAMPLE_KB, WIDGET_KEY, upload_and_wait

pytestmark = BOTH_DATABASES  # SQLite and PostgreSQL

WIDGET = {"Authorization": f"Bearer {WIDGET_KEY}"}
AGENT = {"Authorization": f"Bearer {AGENT_KEY}"}
ADMIN = {"X-API-Key": ADMIN_KEY}


def _upload_sample_kb(client: TestClient) -> dict:
    files = [("files", (p.name, p.read_bytes(), "text/markdown")) for p in sorted(SAMPLE_KB.glob("*.md"))]
    job = upload_and_wait(client, files, ADMIN)
    assert job["status"] == "done", job
    return dict(job["result"])


def _open(client: TestClient, **context: object) -> tuple[str, dict[str, str]]:
    response = client.post("/v1/conversations", headers=WIDGET, json={"channel": "chat", "context": context})
    assert response.status_code == 201, response.text
    body = response.json()
    return body["id"], {**WIDGET, "X-Conversation-Token": body["token"]}


def _say(client: TestClient, conversation_id: str, headers: dict[str, str], text: str) -> dict:
    response = client.post(
        f"/v1/conversations/{conversation_id}/messages", headers=headers, json={"text": text}
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_answer_handoff_learn_and_answer_paraphrase(services: Services, embedder) -> None:
    client = TestClient(create_app(services))
    report = _upload_sample_kb(client)
    assert report["added"] == len(list(SAMPLE_KB.glob("*.md")))
    threshold = services.bot.policy.threshold

    # 1. An answerable question: answered, cited, confident.
    conv, headers = _open(
        client,
        page_url="https://app.nimbusnotes.example/billing",
        attributes={"plan": "plus", "customer_name": "Dana Whitfield"},
    )
    answered = _say(client, conv, headers, "How do I turn on two-factor authentication?")
    assert answered["decision"] == "answer", answered
    assert answered["confidence"] > threshold
    assert answered["citations"][0]["doc_id"] == "upload/account-two-factor-authentication"
    assert "Settings → Security → Two-factor authentication" in answered["reply"]["text"]

    # 2. A question the KB does not cover: a person is offered; the customer accepts and the
    #    handoff opens with the whole context.
    question = "Do you offer a discount for non-profit organisations?"
    offered = _say(client, conv, headers, question)
    assert offered["decision"] == "offer" and offered["reason"] == "low_confidence"
    assert offered["reply"]["text"] == services.voice.offer_message
    handed = _say(client, conv, headers, "Yes please")
    assert handed["decision"] == "handoff"
    assert handed["reason"] == "low_confidence"
    assert handed["reply"]["text"] == services.voice.handoff_message
    handoff_id = handed["handoff_id"]
    assert handoff_id == offered["handoff_id"]

    packet = client.get(f"/v1/handoffs/{handoff_id}", headers=AGENT).json()
    assert packet["question"] == question
    assert [t["role"] for t in packet["transcript"]] == [
        "customer",
        "bot",
        "customer",
        "bot",
        "customer",
        "bot",
    ]
    assert packet["transcript"][0]["text"].startswith("How do I turn on two-factor")
    assert packet["customer_context"]["page_url"] == "https://app.nimbusnotes.example/billing"
    assert packet["customer_context"]["attributes"]["plan"] == "plus"
    assert packet["sources"] and packet["draft"]["confidence"] < threshold
    assert [h["id"] for h in client.get("/v1/handoffs?status=open", headers=AGENT).json()] == [handoff_id]

    # While an agent owns the conversation the bot stays quiet.
    quiet = _say(client, conv, headers, "Hello? Anyone there?")
    assert quiet["reply"] is None

    # 3. The agent answers; the answer goes to the customer and becomes a suggestion.
    answer = (
        "Yes: registered non-profit organisations get 50% off the Team plan. "
        "Email support@nimbusnotes.example from your organisation's address to apply, Dana."
    )
    replied = client.post(
        f"/v1/handoffs/{handoff_id}/reply", headers=AGENT, json={"agent": "sam@nimbus", "text": answer}
    )
    assert replied.status_code == 200, replied.text
    suggestion = replied.json()["suggestion"]
    assert suggestion["prompt"].startswith("I hadn't seen this question before — is it right that")
    assert "50% off the Team plan" in suggestion["prompt"]
    assert "support@nimbusnotes.example" not in suggestion["answer"]  # PII scrubbed before approval
    assert "Dana" not in suggestion["answer"]
    transcript = client.get(f"/v1/conversations/{conv}", headers=headers).json()
    assert transcript["status"] == "resolved"
    assert transcript["messages"][-1]["role"] == "agent"
    pending = client.get("/v1/suggestions?status=pending", headers=AGENT).json()
    assert [s["id"] for s in pending] == [suggestion["id"]]

    # 4. Approve: the answer is written through the ingest path.
    approved = client.post(
        f"/v1/suggestions/{suggestion['id']}/approve", headers=AGENT, json={"approver": "lead@nimbus"}
    )
    assert approved.status_code == 200, approved.text
    learned_doc = approved.json()["learned_doc_id"]
    assert approved.json()["status"] == "approved"
    docs = client.get("/v1/knowledge?source=learned", headers=ADMIN).json()
    assert [d["doc_id"] for d in docs] == [learned_doc]
    assert docs[0]["metadata"]["approved_by"] == "lead@nimbus"

    # 5. The next customer asks a paraphrase: the bot answers from the learned entry.
    conv2, headers2 = _open(client)
    again = _say(client, conv2, headers2, "Do you offer discounts to charities?")
    assert again["decision"] == "answer", again
    assert again["citations"][0]["doc_id"] == learned_doc
    assert "50%" in again["reply"]["text"]
    assert again["confidence"] > threshold


def test_reingesting_unchanged_sample_kb_embeds_nothing(services: Services, embedder) -> None:
    client = TestClient(create_app(services))
    first = _upload_sample_kb(client)
    assert first["chunks_embedded"] > 0
    embedder.reset()
    second = _upload_sample_kb(client)
    assert embedder.documents_embedded == 0
    assert second["chunks_embedded"] == 0
    assert second["unchanged"] == first["added"]


def test_rejected_suggestion_is_kept_and_not_learned(sample_services: Services) -> None:
    client = TestClient(create_app(sample_services))
    conv, headers = _open(client)
    handed = _say(client, conv, headers, "I want to speak to a human please")
    assert handed["reason"] == "customer_request"
    replied = client.post(
        f"/v1/handoffs/{handed['handoff_id']}/reply",
        headers=AGENT,
        json={"agent": "sam", "text": "A person answers chat around the clock, seven days a week."},
    ).json()
    sid = replied["suggestion"]["id"]
    rejected = client.post(
        f"/v1/suggestions/{sid}/reject",
        headers=AGENT,
        json={"approver": "lead", "note": "not true: chat is staffed on weekdays only"},
    )
    assert rejected.json()["status"] == "rejected"
    kept = client.get("/v1/suggestions?status=rejected", headers=AGENT).json()
    assert [s["id"] for s in kept] == [sid] and kept[0]["note"].startswith("not true")
    assert client.get("/v1/knowledge?source=learned", headers=ADMIN).json() == []
    again = client.post(f"/v1/suggestions/{sid}/approve", headers=AGENT, json={"approver": "lead"})
    assert again.status_code == 409


def test_admin_can_delete_a_document_and_it_disappears(sample_services: Services, tmp_path: Path) -> None:
    client = TestClient(create_app(sample_services))
    files = [
        ("files", ("pets.md", b"# Pets policy\n\nHamsters may join the Team plan for free.", "text/markdown"))
    ]
    assert upload_and_wait(client, files, ADMIN)["status"] == "done"
    assert client.delete("/v1/knowledge/upload/pets", headers=ADMIN).json()["chunks_removed"] == 1
    assert client.delete("/v1/knowledge/upload/pets", headers=ADMIN).status_code == 404
    ids = {d["doc_id"] for d in client.get("/v1/knowledge", headers=ADMIN).json()}
    assert "upload/pets" not in ids and "billing-refund-policy" in ids
