"""What one widget-key holder can open on the event streams is bounded per conversation and per
client (key + address), not only per process; failed console sign-ins are rate limited per address.
Unit tests of the caps, then the same over a real uvicorn."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest
from fastapi import HTTPException

from firstlast.api.guard import StreamSlots, client_id
from firstlast.config import ApiSettings
from firstlast.wiring import build
from tests.api.test_events import FAST, _open, serving
from tests.conftest import ADMIN_KEY, AGENT_KEY, WIDGET_KEY, clear_of_window_edge

AGENT = {"Authorization": f"Bearer {AGENT_KEY}"}


def _slots(**caps: int) -> StreamSlots:
    return StreamSlots(ApiSettings(**caps))


def test_a_conversation_past_its_cap_is_refused_with_429_and_retry_after_while_others_open() -> None:
    slots = _slots(max_streams_per_conversation=2)
    slots.take(conversation="c1", client="k@a")
    slots.take(conversation="c1", client="k@a")
    with pytest.raises(HTTPException) as refused:
        slots.take(conversation="c1", client="k@b")
    assert refused.value.status_code == 429
    assert "this conversation already has 2 open event streams" in refused.value.detail
    assert int(refused.value.headers["Retry-After"]) >= 1
    slots.take(conversation="c2", client="k@a")  # another conversation is not held back
    assert slots.open == 3


def test_a_client_past_its_cap_is_refused_and_a_released_slot_opens_again() -> None:
    slots = _slots(max_streams_per_client=2)
    first = slots.take(conversation="c1", client="k@a")
    slots.take(conversation="c2", client="k@a")
    with pytest.raises(HTTPException) as refused:
        slots.take(conversation="c3", client="k@a")
    assert refused.value.status_code == 429 and "this client already has 2" in refused.value.detail
    slots.take(conversation="c3", client="k@other-address")  # another visitor is not held back
    first()
    first()  # a second release changes nothing
    assert slots.open == 2
    slots.take(conversation="c3", client="k@a")
    with pytest.raises(HTTPException):
        slots.take(conversation="c4", client="k@a")


def test_the_process_cap_is_a_503_whoever_asks() -> None:
    slots = _slots(max_streams=1)
    release = slots.take()
    with pytest.raises(HTTPException) as refused:
        slots.take(conversation="c9", client="x@y")
    assert refused.value.status_code == 503 and "too many open event streams" in refused.value.detail
    release()
    assert slots.open == 0 and not slots._by_key  # nothing left behind


def test_client_id_hashes_the_key() -> None:
    ident = client_id("secret-widget-key", "10.0.0.1")
    assert ident.endswith("@10.0.0.1") and "secret" not in ident
    assert ident != client_id("other-key", "10.0.0.1")


def test_over_http_a_widget_gets_429_past_the_conversation_cap_and_an_agent_still_opens(
    make_settings: Callable, embedder
) -> None:
    api = {**FAST, "max_streams_per_conversation": 1, "max_streams_per_client": 2}
    services = build(make_settings(api=api), embedder=embedder)
    with serving(services) as base, httpx.Client(base_url=base, timeout=10) as http:
        cid, headers = _open(http)
        other, other_headers = _open(http)
        third, third_headers = _open(http)
        url = f"/v1/conversations/{cid}/events"
        with http.stream("GET", url, headers=headers) as first:
            assert first.status_code == 200
            refused = http.get(url, headers=headers)
            assert refused.status_code == 429, refused.text
            assert "this conversation already has 1 open event streams" in refused.json()["detail"]
            assert int(refused.headers["Retry-After"]) >= 1
            with http.stream("GET", url, headers=AGENT) as agent:  # agents are not capped per conversation
                assert agent.status_code == 200
            with http.stream("GET", f"/v1/conversations/{other}/events", headers=other_headers) as second:
                assert second.status_code == 200
                over = http.get(f"/v1/conversations/{third}/events", headers=third_headers)
                assert over.status_code == 429 and "this client already has 2" in over.json()["detail"]
        for _ in range(50):  # the slots come back when the streams close (within a poll)
            again = http.get(f"/v1/conversations/{third}/events", headers=third_headers)
            if again.status_code == 200:
                break
            time.sleep(0.05)
        assert again.status_code == 200


def test_failed_console_sign_ins_are_rate_limited_per_address_and_successes_do_not_count(
    make_settings: Callable, embedder
) -> None:
    services = build(make_settings(api={**FAST, "rate_limit_sign_in": "3/hour"}), embedder=embedder)
    clear_of_window_edge(3600)
    with serving(services) as base, httpx.Client(base_url=base, timeout=10) as http:
        for _ in range(5):  # right keys are not counted
            ok = http.post("/console/session", json={"key": AGENT_KEY, "name": "sam"})
            assert ok.status_code == 201, ok.text
        wrong = [
            http.post("/console/session", json={"key": k, "name": "eve"}) for k in ("x", "y", WIDGET_KEY)
        ]
        assert [r.status_code for r in wrong] == [401, 401, 403]
        refused = http.post("/console/session", json={"key": ADMIN_KEY, "name": "eve"})
        assert refused.status_code == 429, refused.text  # even the right key, until the window moves
        assert "failed console sign-ins of 3 per 1 hour exceeded" in refused.json()["detail"]
        assert 1 <= int(refused.headers["Retry-After"]) <= 3600
        assert "firstlast_console" not in refused.headers.get("set-cookie", "")
