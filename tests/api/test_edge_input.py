"""What a visitor with the public widget key can send is checked at the edge: valid Unicode only,
bounded fields and bodies, rate limits, and retries that do not duplicate (issue #13, 1 and 4)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from firstlast.api.app import create_app
from firstlast.api.guard import SweptMemory
from firstlast.config import Settings
from firstlast.testing.counting import CountingEmbedder
from firstlast.wiring import Services, build
from tests.conftest import AGENT_KEY, WIDGET_KEY, clear_of_window_edge

WIDGET = {"Authorization": f"Bearer {WIDGET_KEY}"}
AGENT = {"Authorization": f"Bearer {AGENT_KEY}"}
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def client(services: Services) -> TestClient:
    return TestClient(create_app(services), raise_server_exceptions=False)


def _open(client: TestClient) -> tuple[str, dict[str, str]]:
    body = client.post("/v1/conversations", headers=WIDGET, json={}).json()
    return body["id"], {**WIDGET, "X-Conversation-Token": body["token"]}


# -- 1: invalid Unicode ---------------------------------------------------------------------------

BAD_TEXT = [
    '{"text":"I want to talk to a human","context":{"attributes":{"\\ud800":"x"}}}',
    '{"text":"I want to talk to a human","context":{"attributes":{"plan":"\\udfff"}}}',
    '{"text":"I want to talk to a human \\ud83d"}',
    '{"text":"hi","context":{"page_url":"https://x.test/\\ud800"}}',
    '{"text":"nul \\u0000 byte"}',
]


@pytest.mark.parametrize("raw", BAD_TEXT)
def test_invalid_unicode_in_a_message_is_refused_and_the_inbox_stays_readable(
    client: TestClient, raw: str
) -> None:
    conversation_id, headers = _open(client)
    response = client.post(
        f"/v1/conversations/{conversation_id}/messages", headers={**headers, **JSON}, content=raw
    )
    assert response.status_code == 422, response.text
    assert "Unicode" in response.json()["detail"] or "NUL" in response.json()["detail"]
    assert client.get("/v1/handoffs", headers=AGENT).status_code == 200
    assert client.get(f"/v1/conversations/{conversation_id}", headers=headers).status_code == 200


def test_invalid_unicode_when_opening_a_conversation_is_a_422_not_a_500(client: TestClient) -> None:
    for raw in ('{"context":{"attributes":{"\\ud800":"x"}}}', '{"context":{"attributes":{"a":"\\ud800"}}}'):
        response = client.post("/v1/conversations", headers={**WIDGET, **JSON}, content=raw)
        assert response.status_code == 422, response.text


def test_rows_stored_with_lone_surrogates_before_the_fix_are_read_without_a_500(
    client: TestClient, services: Services
) -> None:
    """A database written before the edge check may hold them: reads replace them with U+FFFD."""
    conversation, token = services.desk.start("chat", {"attributes": {"\ud800": "x", "plan": "pro\udfff"}})
    services.desk.post(conversation.id, "I want to talk to a human")
    headers = {**WIDGET, "X-Conversation-Token": token}
    read = client.get(f"/v1/conversations/{conversation.id}", headers=headers)
    assert read.status_code == 200, read.text
    assert read.json()["context"]["attributes"] == {"\ufffd": "x", "plan": "pro\ufffd"}
    handoffs = client.get("/v1/handoffs", headers=AGENT)
    assert handoffs.status_code == 200, handoffs.text
    packet = client.get(f"/v1/handoffs/{handoffs.json()[0]['id']}", headers=AGENT)
    assert (
        packet.status_code == 200 and packet.json()["customer_context"]["attributes"]["plan"] == "pro\ufffd"
    )


# -- 4: bounded fields and bodies -----------------------------------------------------------------


@pytest.mark.parametrize(
    "attributes",
    [
        {f"k{i}": "v" for i in range(51)},  # too many
        {"k" * 65: "v"},  # key too long
        {"plan": "v" * 1001},  # value too long
    ],
)
def test_oversized_customer_attributes_are_refused(client: TestClient, attributes: dict) -> None:
    response = client.post("/v1/conversations", headers=WIDGET, json={"context": {"attributes": attributes}})
    assert response.status_code == 422, response.text
    conversation_id, headers = _open(client)
    body = {"text": "hi", "context": {"attributes": attributes}}
    assert (
        client.post(f"/v1/conversations/{conversation_id}/messages", headers=headers, json=body).status_code
        == 422
    )


def test_a_body_over_the_limit_is_refused_with_413_before_it_is_read(client: TestClient) -> None:
    huge = json.dumps({"context": {"attributes": {"a": "x" * 200_000}}})
    response = client.post("/v1/conversations", headers={**WIDGET, **JSON}, content=huge)
    assert response.status_code == 413 and "bytes" in response.json()["detail"]

    def chunks():  # no Content-Length: counted while it arrives
        for _ in range(100):
            yield b" " * 10_000

    streamed = client.post("/v1/conversations", headers={**WIDGET, **JSON}, content=chunks())
    assert streamed.status_code == 413


def test_agent_and_admin_bodies_have_the_same_bound(client: TestClient) -> None:
    body = json.dumps({"agent": "a", "text": "x" * 100_000})
    assert client.post("/v1/handoffs/x/reply", headers={**AGENT, **JSON}, content=body).status_code == 413


# -- 4: rate limits ------------------------------------------------------------------------------


@pytest.fixture
def limited(make_settings: Callable[..., Settings], embedder: CountingEmbedder) -> TestClient:
    settings = make_settings()
    api = settings.api.model_copy(update={"rate_limit_client": "5/hour", "rate_limit_conversation": "3/hour"})
    services = build(settings.model_copy(update={"api": api}), embedder=embedder)
    clear_of_window_edge(3600)
    return TestClient(create_app(services), raise_server_exceptions=False)


def test_widget_key_and_address_are_rate_limited_with_retry_after(limited: TestClient) -> None:
    codes = [limited.post("/v1/conversations", headers=WIDGET, json={}).status_code for _ in range(6)]
    assert codes == [201] * 5 + [429]
    refused = limited.post("/v1/conversations", headers=WIDGET, json={})
    assert refused.status_code == 429 and "rate" in refused.json()["detail"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 3600
    # agents are not the public: their key is not limited
    assert all(limited.get("/v1/handoffs", headers=AGENT).status_code == 200 for _ in range(8))


def test_message_posts_are_rate_limited_per_conversation(limited: TestClient) -> None:
    conversation_id, headers = _open(limited)
    url = f"/v1/conversations/{conversation_id}/messages"
    codes = [limited.post(url, headers=headers, json={"text": f"hello {i}"}).status_code for i in range(4)]
    assert codes == [200, 200, 200, 429]


def test_in_memory_counters_keep_one_sweeper_and_still_expire() -> None:
    """limits' stock memory storage starts a new timer thread on almost every hit under steady
    traffic; the swept one keeps one for a second, and an expired counter still reads as zero."""
    storage = SweptMemory()
    time.sleep(0.03)  # the constructor's own 10 ms timer is done
    storage.incr("a", expiry=0.05)
    sweeper = storage.timer
    time.sleep(0.03)  # the stock storage's 10 ms timer would have finished by now
    storage.incr("b", expiry=60)
    assert storage.timer is sweeper and sweeper.daemon
    assert storage.get("a") == 1
    time.sleep(0.05)
    assert storage.get("a") == 0 and storage.get("b") == 1


# -- 4: retries with an Idempotency-Key ----------------------------------------------------------


def test_a_retried_post_with_the_same_idempotency_key_returns_the_first_reply_once(
    client: TestClient,
) -> None:
    conversation_id, headers = _open(client)
    url = f"/v1/conversations/{conversation_id}/messages"
    keyed = {**headers, "Idempotency-Key": "retry-7f3a"}
    first = client.post(url, headers=keyed, json={"text": "Where is my invoice?"})
    again = client.post(url, headers=keyed, json={"text": "Where is my invoice?"})
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    messages = client.get(f"/v1/conversations/{conversation_id}", headers=headers).json()["messages"]
    assert [m["text"] for m in messages if m["role"] == "customer"] == ["Where is my invoice?"]
    other = client.post(url, headers={**headers, "Idempotency-Key": "retry-8b"}, json={"text": "Thanks"})
    assert other.status_code == 200 and other.json()["message"]["id"] != first.json()["message"]["id"]


def test_an_idempotency_key_reused_for_another_message_is_refused(client: TestClient) -> None:
    conversation_id, headers = _open(client)
    url = f"/v1/conversations/{conversation_id}/messages"
    keyed = {**headers, "Idempotency-Key": "k1"}
    assert client.post(url, headers=keyed, json={"text": "one"}).status_code == 200
    reused = client.post(url, headers=keyed, json={"text": "two"})
    assert reused.status_code == 422 and "Idempotency-Key" in reused.json()["detail"]


def test_a_retried_streamed_post_replays_the_stored_reply(client: TestClient) -> None:
    conversation_id, headers = _open(client)
    url = f"/v1/conversations/{conversation_id}/messages"
    keyed = {**headers, "Idempotency-Key": "sse-1", "Accept": "text/event-stream"}
    first = client.post(url, headers=keyed, json={"text": "hello there"})
    again = client.post(url, headers=keyed, json={"text": "hello there"})
    assert first.status_code == again.status_code == 200
    final = [line for line in again.text.splitlines() if line.startswith("data:")][-1]
    first_final = [line for line in first.text.splitlines() if line.startswith("data:")][-1]
    assert json.loads(final[5:]) == json.loads(first_final[5:])
    messages = client.get(f"/v1/conversations/{conversation_id}", headers=headers).json()["messages"]
    assert sum(m["role"] == "customer" for m in messages) == 1


# -- 7: a widget caller cannot tell which conversations exist ------------------------------------


def test_unknown_conversation_and_wrong_token_look_the_same_to_a_widget(client: TestClient) -> None:
    conversation_id, _ = _open(client)
    wrong = {**WIDGET, "X-Conversation-Token": "not-the-token"}
    known = client.get(f"/v1/conversations/{conversation_id}", headers=wrong)
    unknown = client.get("/v1/conversations/0123456789abcdef0123456789abcdef", headers=wrong)
    assert known.status_code == unknown.status_code == 403
    assert known.json() == unknown.json()
    post = client.post("/v1/conversations/nope/messages", headers=wrong, json={"text": "hi"})
    assert post.status_code == 403
