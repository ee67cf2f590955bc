"""The message route with the LLM answerer (scripted chat model): JSON and SSE carry the grounding."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from firstlast.api.app import create_app
from firstlast.ingest.loaders import load_path
from firstlast.testing.scripted_chat import ScriptedChatModel
from firstlast.wiring import build
from tests.conftest import SAMPLE_KB, VOICE, WIDGET_KEY

REPLY = (
    "In Nimbus Notes, go to Settings → Security → Two-factor authentication and click Turn on [1]. "
    "Then scan the QR code with your authenticator app [1]. It also works on fax machines [2]."
)


@pytest.fixture
def client(make_settings, embedder) -> TestClient:
    settings = make_settings(answer={"voice_profile": VOICE}, llm={"answerer": "llm", "passages": 6})
    services = build(settings, embedder=embedder, chat_model=ScriptedChatModel(reply=REPLY))
    source, documents = load_path(SAMPLE_KB)
    services.ingestor.ingest(documents, source=source)
    return TestClient(create_app(services))


def _conversation(client: TestClient, channel: str = "chat") -> tuple[str, dict[str, str]]:
    widget = {"Authorization": f"Bearer {WIDGET_KEY}"}
    conv = client.post("/v1/conversations", headers=widget, json={"channel": channel}).json()
    return conv["id"], {**widget, "X-Conversation-Token": conv["token"]}


def _events(body: str) -> list[tuple[str, dict[str, Any]]]:
    events, event = [], ""
    for line in body.splitlines():
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            events.append((event, json.loads(line[6:])))
    return events


def test_llm_reply_as_json_carries_the_grounding_decision(client):
    conv, headers = _conversation(client)
    out = client.post(
        f"/v1/conversations/{conv}/messages",
        headers=headers,
        json={"text": "How do I turn on two-factor authentication?"},
    ).json()
    assert out["decision"] == "answer"
    assert out["grounding"]["mode"] == "llm"
    assert "It also works on fax machines." in out["grounding"]["dropped"]
    assert "fax" not in out["reply"]["text"] and out["citations"]
    assert out["first_delta_ms"] <= out["latency_ms"]


def test_llm_reply_streams_kept_sentences_then_the_final_event(client):
    conv, headers = _conversation(client)
    r = client.post(
        f"/v1/conversations/{conv}/messages",
        headers={**headers, "Accept": "text/event-stream"},
        json={"text": "How do I turn on two-factor authentication?"},
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = _events(r.text)
    deltas = [d["text"] for kind, d in events if kind == "delta"]
    assert len(deltas) >= 2 and [k for k, _ in events][-1] == "final"
    final = events[-1][1]
    assert "".join(deltas) == final["reply"]["text"]
    assert final["grounding"]["mode"] == "llm" and not any("fax" in d for d in deltas)
    transcript = client.get(f"/v1/conversations/{conv}", headers=headers).json()
    assert transcript["messages"][-1]["text"] == final["reply"]["text"]  # stored as streamed


def test_bad_input_on_a_stream_request_is_a_4xx_not_a_broken_stream(client):
    conv, headers = _conversation(client)
    r = client.post(
        f"/v1/conversations/{conv}/messages",
        headers={**headers, "Accept": "text/event-stream"},
        json={"text": "   "},
    )
    assert r.status_code == 422 and r.json()["detail"] == "message text must not be empty"
    r = client.post(
        "/v1/conversations/nope/messages",
        headers={"Authorization": "Bearer test-agent-key", "Accept": "text/event-stream"},
        json={"text": "hi"},
    )
    assert r.status_code == 404
