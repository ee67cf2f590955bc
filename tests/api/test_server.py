"""The real server: `firstlast serve` under uvicorn on 127.0.0.1, spoken to over HTTP."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from firstlast.testing.servers import firstlast_server, run_cli

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp_path = tmp_path_factory.mktemp("server")
    env = {
        **os.environ,
        "FIRSTLAST_DATA_DIR": str(tmp_path / "data"),
        "FIRSTLAST_ANSWER__VOICE_PROFILE": str(REPO / "examples" / "voice.yaml"),
        "FIRSTLAST_API__WIDGET_KEYS": '["it-widget"]',
        "FIRSTLAST_API__AGENT_KEYS": '["it-agent"]',
        "FIRSTLAST_API__ADMIN_KEYS": '["it-admin"]',
    }
    run_cli("ingest", str(REPO / "examples" / "sample_kb"), env=env)
    with firstlast_server(env) as running:
        yield running.base


@pytest.mark.integration
def test_served_api_answers_and_hands_off_over_real_http(server: str) -> None:
    with httpx.Client(base_url=server, timeout=30) as http:
        assert http.get("/healthz").json()["status"] == "ok"
        assert http.get("/readyz").json()["checks"]["knowledge_base"] != "0 chunks"
        widget = {"Authorization": "Bearer it-widget"}
        conv = http.post("/v1/conversations", headers=widget, json={"channel": "sms"}).json()
        headers = {**widget, "X-Conversation-Token": conv["token"]}
        reply = http.post(
            f"/v1/conversations/{conv['id']}/messages",
            headers=headers,
            json={"text": "How do I turn on two-factor authentication?"},
        ).json()
        assert reply["decision"] == "answer"
        assert len(reply["reply"]["text"]) <= 320  # the SMS limit of the voice profile
        human = http.post(
            f"/v1/conversations/{conv['id']}/messages", headers=headers, json={"text": "talk to a human"}
        ).json()
        assert human["reason"] == "customer_request"
        open_handoffs = http.get("/v1/handoffs?status=open", headers={"Authorization": "Bearer it-agent"})
        assert [h["id"] for h in open_handoffs.json()] == [human["handoff_id"]]
        assert http.get("/v1/knowledge", headers=widget).status_code == 403


def _parse_sse(lines: list[str]) -> list[tuple[str, dict]]:
    import json

    events, event = [], ""
    for line in lines:
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            events.append((event, json.loads(line[6:])))
    return events


@pytest.mark.integration
def test_reply_streams_as_server_sent_events(server: str) -> None:
    widget = {"Authorization": "Bearer it-widget"}
    with httpx.Client(base_url=server, timeout=30) as http:
        conv = http.post("/v1/conversations", headers=widget, json={}).json()
        headers = {**widget, "X-Conversation-Token": conv["token"], "Accept": "text/event-stream"}
        body = {"text": "How can I restore a note I deleted?"}
        with http.stream("POST", f"/v1/conversations/{conv['id']}/messages", headers=headers, json=body) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            events = _parse_sse(list(r.iter_lines()))
    kinds = [kind for kind, _ in events]
    assert kinds[-1] == "final" and kinds.count("final") == 1 and kinds.count("delta") >= 2
    final = events[-1][1]
    assert final["decision"] == "answer" and final["citations"] and 0 <= final["confidence"] <= 1
    assert "".join(data["text"] for kind, data in events if kind == "delta") == final["reply"]["text"]
