"""The live event streams (issue #10): read from the database, in order, resumable with
Last-Event-ID, token-checked, and bounded. A real uvicorn in a thread serves the app, so streams
are read over HTTP while other requests change the conversation."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn

from firstlast.api.app import create_app
from firstlast.db import Database
from firstlast.desk import SqlDeskStore
from firstlast.records import NewMessage
from firstlast.testing.servers import free_port
from firstlast.wiring import Services, build
from tests.conftest import ADMIN_KEY, AGENT_KEY, WIDGET_KEY

WIDGET = {"Authorization": f"Bearer {WIDGET_KEY}"}
AGENT = {"Authorization": f"Bearer {AGENT_KEY}"}
FAST = {
    "widget_keys": [WIDGET_KEY],
    "agent_keys": [AGENT_KEY],
    "admin_keys": [ADMIN_KEY],
    "stream_seconds": 1.5,
    "stream_poll_seconds": 0.05,
    "stream_heartbeat_seconds": 0.3,
}


@contextmanager
def serving(services: Services) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(services), port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.05)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def fast(make_settings: Callable, embedder) -> Services:
    return build(make_settings(api=FAST), embedder=embedder)


def read_events(response: httpx.Response) -> list[tuple[str | None, str, dict | None]]:
    """(id, event, data) of every event; heartbeats as (None, "heartbeat", None)."""
    events, ident, kind, data = [], None, "message", None
    for line in response.iter_lines():
        if line.startswith(": heartbeat"):
            events.append((None, "heartbeat", None))
        elif line.startswith("id: "):
            ident = line[4:]
        elif line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            data = json.loads(line[6:])
        elif line == "" and data is not None:
            events.append((ident, kind, data))
            ident, kind, data = None, "message", None
    return events


def _open(http: httpx.Client) -> tuple[str, dict[str, str]]:
    conv = http.post("/v1/conversations", headers=WIDGET, json={}).json()
    return conv["id"], {**WIDGET, "X-Conversation-Token": conv["token"]}


def _say(http: httpx.Client, cid: str, headers: dict[str, str], text: str) -> dict:
    response = http.post(f"/v1/conversations/{cid}/messages", headers=headers, json={"text": text})
    assert response.status_code == 200, response.text
    return response.json()


def test_conversation_stream_sends_stored_messages_in_order_and_resumes_after_last_event_id(
    fast: Services,
) -> None:
    with serving(fast) as base, httpx.Client(base_url=base, timeout=10) as http:
        cid, headers = _open(http)
        _say(http, cid, headers, "I want to talk to a human")
        _say(http, cid, headers, "Hello? Anyone there?")  # the bot stays quiet: with an agent now
        stored = [m["id"] for m in http.get(f"/v1/conversations/{cid}", headers=headers).json()["messages"]]
        with http.stream("GET", f"/v1/conversations/{cid}/events", headers=headers) as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            events = read_events(r)
        messages = [(i, d) for i, k, d in events if k == "message"]
        assert [int(i) for i, _ in messages] == [d["id"] for _, d in messages] == stored
        assert [d["role"] for _, d in messages] == ["customer", "bot", "customer"]
        assert [d["status"] for _, k, d in events if k == "status"] == ["awaiting_agent"]

        resume = {**headers, "Last-Event-ID": str(stored[1])}
        with http.stream("GET", f"/v1/conversations/{cid}/events", headers=resume) as r:
            again = [d["id"] for _, k, d in read_events(r) if k == "message"]
        assert again == stored[2:]


def test_agent_reply_arrives_on_an_open_stream_with_the_new_status(fast: Services) -> None:
    with serving(fast) as base, httpx.Client(base_url=base, timeout=10) as http:
        cid, headers = _open(http)
        said = _say(http, cid, headers, "I want to talk to a human")
        handoff, last = said["handoff_id"], said["reply"]["id"]
        got: list = []

        def listen() -> None:
            resume = {**headers, "Last-Event-ID": str(last)}  # only what comes next
            with httpx.stream("GET", f"{base}/v1/conversations/{cid}/events", headers=resume) as r:
                got.extend(read_events(r))

        reader = threading.Thread(target=listen)
        reader.start()
        time.sleep(0.3)
        body = {"agent": "sam", "text": "Hi, Sam here: I can help with that."}
        assert http.post(f"/v1/handoffs/{handoff}/reply", headers=AGENT, json=body).status_code == 200
        reader.join(10)
    texts = [(d["role"], d["text"]) for _, k, d in got if k == "message"]
    assert texts == [("agent", body["text"])]
    assert [d["status"] for _, k, d in got if k == "status"] == ["awaiting_agent", "resolved"]
    assert any(k == "heartbeat" for _, k, _ in got)  # idle stretches keep the connection alive


def test_stream_reads_the_database_not_this_process(fast: Services) -> None:
    """A message another API process wrote into the shared database reaches this process's stream."""
    with serving(fast) as base, httpx.Client(base_url=base, timeout=10) as http:
        cid, headers = _open(http)
        other_process = SqlDeskStore(Database(fast.settings.sql_url))
        with other_process.transaction() as tx:
            written = tx.add_message(cid, NewMessage("agent", "Written elsewhere.", "kim"))
        with http.stream("GET", f"/v1/conversations/{cid}/events", headers=headers) as r:
            ids = [d["id"] for _, k, d in read_events(r) if k == "message"]
    assert ids == [written.id]


def test_stream_checks_the_conversation_token(fast: Services) -> None:
    with serving(fast) as base, httpx.Client(base_url=base, timeout=10) as http:
        cid, headers = _open(http)
        _other, other_headers = _open(http)
        url = f"/v1/conversations/{cid}/events"
        assert http.get(url, headers=WIDGET).status_code == 403
        assert http.get(url, headers={**WIDGET, "X-Conversation-Token": "forged"}).status_code == 403
        assert http.get(url, headers=other_headers).status_code == 403
        assert http.get(url).status_code == 401
        assert http.get("/v1/conversations/nope/events", headers=AGENT).status_code == 404
        bad = http.get(url, headers={**headers, "Last-Event-ID": "abc"})
        assert bad.status_code == 422 and "Last-Event-ID" in bad.json()["detail"]
        with http.stream("GET", url, headers=AGENT) as r:  # agents read any conversation
            assert r.status_code == 200


def test_inbox_stream_is_for_agents_and_sends_handoff_changes_in_order(fast: Services) -> None:
    with serving(fast) as base, httpx.Client(base_url=base, timeout=10) as http:
        assert http.get("/v1/inbox/events", headers=WIDGET).status_code == 403
        cid, headers = _open(http)
        handoff = _say(http, cid, headers, "I want to talk to a human")["handoff_id"]
        http.post(f"/v1/handoffs/{handoff}/assign", headers=AGENT, json={"agent": "sam"})
        with http.stream("GET", "/v1/inbox/events", headers={**AGENT, "Last-Event-ID": "0"}) as r:
            events = read_events(r)
        changes = [(int(i), d) for i, k, d in events if k == "handoff"]
        assert [d["action"] for _, d in changes] == ["opened", "assigned"]
        assert changes[0][0] < changes[1][0] and changes[1][1]["handoff"]["agent"] == "sam"
        with http.stream("GET", "/v1/inbox/events", headers=AGENT) as r:  # no Last-Event-ID: from now
            fresh = read_events(r)
        assert [k for _, k, _ in fresh if k != "heartbeat"] == ["ready"]
        assert fresh[0][2] == {"after": changes[1][0]}


def test_open_streams_per_process_are_bounded(make_settings: Callable, embedder) -> None:
    services = build(make_settings(api={**FAST, "max_streams": 1}), embedder=embedder)
    with serving(services) as base, httpx.Client(base_url=base, timeout=10) as http:
        cid, headers = _open(http)
        with http.stream("GET", f"/v1/conversations/{cid}/events", headers=headers) as first:
            assert first.status_code == 200
            refused = http.get(f"/v1/conversations/{cid}/events", headers=headers)
            assert refused.status_code == 503 and "too many" in refused.json()["detail"]
        time.sleep(0.2)
        with http.stream("GET", f"/v1/conversations/{cid}/events", headers=headers) as again:
            assert again.status_code == 200  # the slot was given back when the first one closed
